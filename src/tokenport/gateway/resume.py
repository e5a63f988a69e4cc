"""Stream resume: continue an answer whose upstream stream was cut after content was sent.

    Partial        what the client has already received (text, reasoning, tool calls)
    resumable      whether a route can continue it (its provider's `Continuation`, data
                   in providers.toml): nothing sent yet is a plain retry anywhere; partial
                   reasoning or tool arguments need a provider that declares them
    continuation   the request to send: the conversation plus the partial answer as an
                   assistant turn marked `prefix` (each adapter says it in its upstream's
                   own words: DeepSeek `prefix`, Kimi `partial`, vLLM
                   `continue_final_message`, Anthropic prefill)
    continued      the continuation's chunks as the client must see them: no second role,
                   no repeated tool-call id or name, no whitespace the prefill dropped

The gateway (`Gateway.relay`) decides when to resume and settles every attempt's cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import msgspec

from tokenport.values import JSON, ChatRequest, Chunk, Delta, Message, ProviderSpec


@dataclass(slots=True)
class Partial:
    """The answer so far, rebuilt from the chunks the client received."""

    content: str = ""
    reasoning: str = ""
    calls: dict[int, JSON] = field(default_factory=dict)  # index -> {id, type, function}

    @classmethod
    def of(cls, chunks: list[Chunk]) -> Partial:
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, JSON] = {}
        for chunk in chunks:
            d = chunk.delta
            if d is None:
                continue
            if d.content:
                content.append(d.content)
            if d.reasoning_content:
                reasoning.append(d.reasoning_content)
            for piece in d.tool_calls or ():
                _add_call(calls, piece)
        return cls("".join(content), "".join(reasoning), calls)

    def empty(self) -> bool:
        return not (self.content or self.reasoning or self.calls)

    def in_reasoning(self) -> bool:
        """Cut while still thinking: the reasoning must be continued, not just resent."""
        return bool(self.reasoning) and not self.content and not self.calls


def _add_call(calls: dict[int, JSON], piece: JSON) -> None:
    index = int(piece.get("index", 0))
    call = calls.setdefault(
        index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
    )
    if piece.get("id"):
        call["id"] = piece["id"]
    fn = piece.get("function") or {}
    if fn.get("name"):
        call["function"]["name"] += fn["name"]
    if fn.get("arguments"):
        call["function"]["arguments"] += fn["arguments"]


def resumable(spec: ProviderSpec, partial: Partial) -> bool:
    if partial.empty():
        return True  # nothing was sent: the same request again, at any route
    cont = spec.continuation
    if cont is None:
        return False
    if partial.calls and not cont.tool_arguments:
        return False
    return cont.reasoning or not partial.in_reasoning()


def continuation(
    request: ChatRequest, partial: Partial, spec: ProviderSpec, used_tokens: int
) -> tuple[ChatRequest, str]:
    """The request that continues `partial` at `spec`'s provider, and the whitespace the
    prefix lost (Anthropic refuses a prefill that ends in whitespace)."""
    if partial.empty():
        return request, ""
    cont = spec.continuation
    assert cont is not None  # `resumable` said so
    content, trim = partial.content, ""
    if cont.mode == "prefill":
        content = partial.content.rstrip()
        trim = partial.content[len(content) :]
    reasoning = partial.reasoning if cont.reasoning else None
    calls = [partial.calls[i] for i in sorted(partial.calls)] or None
    prefix = Message(
        role="assistant",
        content=content,
        reasoning_content=reasoning or None,
        tool_calls=calls,
        prefix=True,
    )
    changes: dict[str, object] = {"messages": [*request.messages, prefix]}
    cap = request.output_cap()
    if cap is not None:  # the continuation may write only what the answer has left
        left = max(1, cap - used_tokens)
        key = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
        changes[key] = left
    if cont.mode == "prefill" and request.thinking is not None:
        # A prefilled turn cannot start with unsigned thinking: the answer goes on unthought.
        changes["thinking"] = None
    return msgspec.structs.replace(request, **changes), trim


async def continued(
    upstream: AsyncIterator[Chunk], partial: Partial, trim: str
) -> AsyncIterator[Chunk]:
    """The continuation's chunks, cleaned so that they read as the same answer going on."""
    started = set(partial.calls)
    async for chunk in upstream:
        d = chunk.delta
        if d is not None:
            content = d.content
            if trim and content:
                content, trim = _drop_trim(content, trim)
            calls = [_continued_call(c, started) for c in d.tool_calls] if d.tool_calls else None
            d = Delta(
                content=content or None,
                tool_calls=calls,
                reasoning_content=d.reasoning_content or None,
                signature=d.signature,
                redacted_thinking=d.redacted_thinking,
            )
            if d == _EMPTY:
                d = None
            if d is None and chunk.finish_reason is None and chunk.usage is None:
                continue
            chunk = msgspec.structs.replace(chunk, delta=d)
        yield chunk


_EMPTY = Delta()


def _drop_trim(content: str, trim: str) -> tuple[str, str]:
    n = 0
    while n < len(trim) and n < len(content) and content[n] == trim[n]:
        n += 1
    return content[n:], (trim[n:] if n == len(content) else "")


def _continued_call(piece: JSON, started: set[int]) -> JSON:
    """A call the client already saw start gets only its further arguments."""
    if int(piece.get("index", 0)) not in started:
        return piece
    fn = piece.get("function") or {}
    return {"index": piece.get("index", 0), "function": {"arguments": fn.get("arguments", "")}}
