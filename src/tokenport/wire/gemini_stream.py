"""`Chunk`s -> a Gemini `streamGenerateContent` stream (the Gemini door).

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

import orjson

from tokenport.errors import TokenportError
from tokenport.values import JSON, Chunk, Delta, Thinking, Usage
from tokenport.wire.gemini_reply import (
    error_object,
    finish_reason,
    function_call,
    thought_signature,
    usage_metadata,
)
from tokenport.wire.sse import sse_frame


@dataclass(slots=True)
class _Call:
    id: str
    name: str = ""
    args: list[str] = field(default_factory=list)


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
                    sig if i == 0 else None,
                )
                for i, c in enumerate(held)
            ]
            content = {"role": "model", "parts": parts}
            reason = finish_reason(self.finish.get(choice))
            candidates.append({"content": content, "finishReason": reason, "index": choice})
        body = {"candidates": candidates, "usageMetadata": usage_metadata(usage, cost)}
        return self._frame(body) + self._close()

    def error(self, exc: TokenportError, message: str) -> bytes:
        return self._frame({"error": error_object(exc, message)}) + self._close()

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
