"""Gemini `streamGenerateContent` streams <-> `Chunk`s, both ways.

    Chunks -> client frames         `StreamEncoder` (the Gemini door)
    upstream frames -> Chunks       `StreamState`   (the Gemini adapter)

Each frame is a whole `GenerateContentResponse` holding only what is new. Two framings, as
Google serves them: server-sent events with `alt=sse` (what the SDKs and Gemini CLI ask
for), else one JSON array written element by element (`[`, `,`, `]`).

Gemini streams a function call whole, in one part with `args` as an object, never as
argument pieces; OpenAI-style argument deltas are therefore collected and the calls go out
in the last frame, with the finish reason and `usageMetadata` (and its `cost`), the first
call carrying the answer's reasoning as its `thoughtSignature` (`wire.gemini_reply`). Text
and (when asked for) thoughts go out as they come. A failure after the first byte is one more
frame holding Google's error object, then the stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import orjson

from tokenport.errors import TokenportError, UpstreamProtocolError
from tokenport.values import JSON, Chunk, Delta, Thinking, Usage
from tokenport.wire.gemini_reply import (
    WireCandidate,
    function_call,
    gemini_error_object,
    gemini_finish_reason,
    gemini_signature,
    gemini_stream_error,
    response_decoder,
    thought_signature,
    upstream_call,
    upstream_finish,
    usage_metadata,
)
from tokenport.wire.sse import sse_frame


@dataclass(slots=True)
class _Call:
    id: str
    name: str = ""
    args: list[str] = field(default_factory=list)
    signature: str | None = None  # a Gemini upstream's own


@dataclass(slots=True)
class _Reasoning:
    """One choice's reasoning so far: closed (signed or redacted) blocks, and open text."""

    blocks: list[Thinking] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def feed(self, delta: Delta) -> None:
        if delta.reasoning_content:
            self.text.append(delta.reasoning_content)
        if delta.signature is not None:
            self.blocks.append(Thinking("".join(self.text), delta.signature))
            self.text = []
        if delta.redacted_thinking is not None:
            self.blocks.append(Thinking(redacted=delta.redacted_thinking))

    def signature(self) -> str | None:
        reasoning = "".join(b.text for b in self.blocks) + "".join(self.text)
        return thought_signature(reasoning, self.blocks)


class StreamEncoder:
    __slots__ = ("calls", "finish", "first", "gen_id", "model", "reasoning", "sse", "thoughts")

    def __init__(self, gen_id: str, model: str, thoughts: bool, sse: bool) -> None:
        self.gen_id = gen_id
        self.model = model
        self.thoughts = thoughts
        self.sse = sse
        self.first = True
        self.calls: dict[int, dict[int, _Call]] = {}  # choice index -> tool index -> call
        self.finish: dict[int, str | None] = {}  # choice index -> finish reason
        self.reasoning: dict[int, _Reasoning] = {}

    def chunk(self, chunk: Chunk) -> bytes:
        self.finish.setdefault(chunk.index, None)
        if chunk.finish_reason is not None:
            self.finish[chunk.index] = chunk.finish_reason
        delta = chunk.delta
        if delta is None:
            return b""
        if delta.reasoning_content or delta.signature or delta.redacted_thinking:
            self.reasoning.setdefault(chunk.index, _Reasoning()).feed(delta)
        parts: list[JSON] = []
        if delta.reasoning_content and self.thoughts:
            parts.append({"text": delta.reasoning_content, "thought": True})
        if delta.content:
            parts.append({"text": delta.content})
        for piece in delta.tool_calls or ():
            self._collect(chunk.index, piece)
        if not parts:
            return b""
        content = {"role": "model", "parts": parts}
        return self._frame({"candidates": [{"content": content, "index": chunk.index}]})

    def _collect(self, choice: int, piece: JSON) -> None:
        calls = self.calls.setdefault(choice, {})
        index = piece.get("index", 0)
        call = calls.get(index)
        if call is None:
            call = calls[index] = _Call(piece.get("id") or f"call_{choice}_{index}")
        function = piece.get("function") or {}
        call.name = call.name or function.get("name") or ""
        call.signature = call.signature or gemini_signature(piece)
        if function.get("arguments"):
            call.args.append(function["arguments"])

    def end(self, usage: Usage, cost: float | None) -> bytes:
        candidates = []
        for choice in sorted(self.finish) or [0]:
            held = [c for _, c in sorted(self.calls.get(choice, {}).items())]
            reasoning = self.reasoning.get(choice)
            sig = reasoning.signature() if reasoning is not None and held else None
            parts = [
                function_call(
                    {"id": c.id, "function": {"name": c.name, "arguments": "".join(c.args)}},
                    c.signature or (sig if i == 0 else None),
                )
                for i, c in enumerate(held)
            ]
            content = {"role": "model", "parts": parts}
            reason = gemini_finish_reason(self.finish.get(choice))
            candidates.append({"content": content, "finishReason": reason, "index": choice})
        body = {"candidates": candidates, "usageMetadata": usage_metadata(usage, cost)}
        return self._frame(body) + self._close()

    def error(self, exc: TokenportError, message: str) -> bytes:
        return self._frame({"error": gemini_error_object(exc, message)}) + self._close()

    def _frame(self, body: JSON) -> bytes:
        if "error" not in body:
            body["modelVersion"] = self.model
            body["responseId"] = self.gen_id
        data = orjson.dumps(body)
        if self.sse:
            return sse_frame(data)
        lead = b"[" if self.first else b",\r\n"
        self.first = False
        return lead + data

    def _close(self) -> bytes:
        if self.sse:
            return b""
        return b"[]" if self.first else b"]"


# ---------------------------------------------------------------------------------------
# Upstream frames -> Chunks (the Gemini adapter)


class StreamState:
    """Turns one Gemini upstream stream (`alt=sse`) into Chunks: text and thoughts as
    deltas, each function call as one whole tool-call delta, then the finish reason and the
    usage (Gemini's counts are cumulative; the last frame's are the answer's)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.calls: dict[int, int] = {}  # choice index -> calls so far
        self.usage: Usage | None = None
        self.finished = False
        self.started = False

    def feed(self, data: bytes) -> list[Chunk]:
        try:
            frame = response_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamProtocolError(self.provider, f"unreadable stream frame: {exc}") from exc
        if frame.error is not None:
            raise gemini_stream_error(self.provider, frame.error)
        out: list[Chunk] = []
        if not self.started:
            self.started = True
            out.append(Chunk(delta=Delta(role="assistant")))
        if frame.usage_metadata is not None:
            self.usage = frame.usage_metadata.to_usage()
        for cand in frame.candidates:
            out.extend(self._candidate(cand))
        if self.finished and self.usage is not None and frame.usage_metadata is not None:
            out.append(Chunk(usage=self.usage))
        return out

    def _candidate(self, cand: WireCandidate) -> list[Chunk]:
        out: list[Chunk] = []
        for part in cand.content.parts if cand.content is not None else ():
            if part.function_call is not None:
                k = self.calls[cand.index] = self.calls.get(cand.index, 0) + 1
                call_id = f"call_{cand.index}_{k - 1}"
                call = upstream_call(part.function_call, call_id, part.thought_signature)
                delta = Delta(tool_calls=[{"index": k - 1, **call}])
            elif part.text and part.thought:
                delta = Delta(reasoning_content=part.text)
            elif part.text:
                delta = Delta(content=part.text)
            else:
                continue
            out.append(Chunk(index=cand.index, delta=delta))
        if cand.finish_reason is not None:
            self.finished = True
            calls = bool(self.calls.get(cand.index))
            reason = upstream_finish(cand.finish_reason, calls)
            out.append(Chunk(index=cand.index, finish_reason=reason))
        return out

    def finish(self) -> None:
        if not self.finished:
            raise UpstreamProtocolError(self.provider, "stream ended without a finishReason")
