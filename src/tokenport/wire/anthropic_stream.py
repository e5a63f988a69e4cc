"""Anthropic Messages streams <-> `Chunk`s, both ways.

    upstream events -> Chunks       `StreamState`   (the Anthropic adapter)
    Chunks -> client events         `EventEncoder`  (the messages door)

The client side must keep Anthropic's grammar whatever the upstream sends: one
`message_start`; then content blocks, one open at a time, each `content_block_start`,
deltas, `content_block_stop`, with indexes counting up from 0; then `message_delta` (stop
reason and usage) and `message_stop`. An OpenAI-compatible upstream may interleave
reasoning, text and several parallel tool calls in any order, so the encoder opens a new
block whenever the kind changes, and tool calls go out one block at a time
(`wire/tool_stream.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import orjson

from tokenport.errors import UpstreamProtocolError
from tokenport.values import JSON, Chunk, Delta, Usage
from tokenport.wire.anthropic_reply import (
    WireBlock,
    WireMessage,
    WireUsage,
    finish_reason,
    messages_usage_to_wire,
    stop_reason,
    stream_error,
    tool_call,
)
from tokenport.wire.sse import sse_frame
from tokenport.wire.tool_stream import CallSequencer, StreamedCall

# ---------------------------------------------------------------------------------------
# Upstream events -> Chunks


class WireDelta(msgspec.Struct):
    type: str = ""
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None


class WireError(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class WireEvent(msgspec.Struct):
    type: str
    message: WireMessage | None = None
    index: int = 0
    content_block: WireBlock | None = None
    delta: WireDelta | None = None
    usage: WireUsage | None = None
    error: WireError | None = None


_event_decoder = msgspec.json.Decoder(WireEvent)


class StreamState:
    """Turns one upstream stream's events into Chunks. Unknown events (and `ping`) yield
    nothing."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.usage: WireUsage | None = None
        self.tool_index: dict[int, int] = {}  # content block index -> OpenAI tool_calls index
        self.no_args: set[int] = set()  # tool blocks that have had no input_json_delta yet
        self.done = False

    def feed(self, data: bytes) -> list[Chunk]:
        try:
            event = _event_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamProtocolError(self.provider, f"unreadable stream event: {exc}") from exc
        handler = _HANDLERS.get(event.type)
        return handler(self, event) if handler is not None else []

    def finish(self) -> None:
        if not self.done:
            raise UpstreamProtocolError(self.provider, "stream ended before message_stop")

    def _on_message_start(self, event: WireEvent) -> list[Chunk]:
        if event.message is not None and event.message.usage is not None:
            self.usage = event.message.usage
        return [Chunk(delta=Delta(role="assistant"))]

    def _on_content_block_start(self, event: WireEvent) -> list[Chunk]:
        block = event.content_block
        if block is None:
            return []
        if block.type == "tool_use":
            index = self.tool_index[event.index] = len(self.tool_index)
            self.no_args.add(event.index)
            call = {"index": index, **tool_call(block, "")}
            return [Chunk(delta=Delta(tool_calls=[call]))]
        if block.type == "redacted_thinking":
            return [Chunk(delta=Delta(redacted_thinking=block.data or ""))]
        if block.type == "thinking" and block.thinking:
            return [Chunk(delta=Delta(reasoning_content=block.thinking))]
        return [Chunk(delta=Delta(content=block.text))] if block.text else []

    def _on_content_block_delta(self, event: WireEvent) -> list[Chunk]:
        delta = event.delta or WireDelta()
        if delta.type == "text_delta" and delta.text:
            return [Chunk(delta=Delta(content=delta.text))]
        if delta.type == "input_json_delta" and delta.partial_json:
            self.no_args.discard(event.index)
            return [self._arguments(event.index, delta.partial_json)]
        if delta.type == "thinking_delta" and delta.thinking:
            return [Chunk(delta=Delta(reasoning_content=delta.thinking))]
        if delta.type == "signature_delta" and delta.signature:
            return [Chunk(delta=Delta(signature=delta.signature))]
        return []  # citations_delta, ...

    def _on_content_block_stop(self, event: WireEvent) -> list[Chunk]:
        if event.index in self.no_args:
            # A call with no input: OpenAI clients parse `arguments`, and "" is not JSON.
            self.no_args.discard(event.index)
            return [self._arguments(event.index, "{}")]
        return []

    def _arguments(self, block: int, text: str) -> Chunk:
        call = {"index": self.tool_index.get(block, 0), "function": {"arguments": text}}
        return Chunk(delta=Delta(tool_calls=[call]))

    def _on_message_delta(self, event: WireEvent) -> list[Chunk]:
        if event.usage is not None:
            self.usage = event.usage if self.usage is None else self.usage.merged(event.usage)
        stop = event.delta.stop_reason if event.delta is not None else None
        return [Chunk(finish_reason=finish_reason(stop))] if stop else []

    def _on_message_stop(self, event: WireEvent) -> list[Chunk]:
        self.done = True
        return [Chunk(usage=self.usage.to_usage())] if self.usage is not None else []

    def _on_error(self, event: WireEvent) -> list[Chunk]:
        error = event.error or WireError()
        raise stream_error(self.provider, error.type, error.message)


_HANDLERS: dict[str, Callable[[StreamState, WireEvent], list[Chunk]]] = {
    "message_start": StreamState._on_message_start,
    "content_block_start": StreamState._on_content_block_start,
    "content_block_delta": StreamState._on_content_block_delta,
    "content_block_stop": StreamState._on_content_block_stop,
    "message_delta": StreamState._on_message_delta,
    "message_stop": StreamState._on_message_stop,
    "error": StreamState._on_error,
}


# ---------------------------------------------------------------------------------------
# Chunks -> client events


def event(name: str, payload: JSON) -> bytes:
    return sse_frame(orjson.dumps({"type": name, **payload}), name)


class EventEncoder:
    """Builds the client's event stream from the gateway's chunks. One per response."""

    def __init__(self, message_id: str, model: str, input_tokens: int) -> None:
        self.message_id = message_id
        self.model = model
        self.input_tokens = input_tokens
        self.started = False
        self.open: str | None = None  # "text", "thinking" or "tool"
        self.next_index = 0
        self.signed = False  # the open thinking block already has its signature
        self.calls = CallSequencer(
            lambda i: f"toolu_{message_id}_{i}", self._open_call, self._arguments, self._close
        )
        self.finish: str | None = None
        self._out: list[bytes] = []

    # -- the two entry points ------------------------------------------------------------

    def chunk(self, chunk: Chunk) -> bytes:
        self._start()
        d = chunk.delta
        if d is not None and chunk.index == 0:
            if d.reasoning_content:
                self._thinking(d.reasoning_content)
            if d.signature:
                self._signature(d.signature)
            if d.redacted_thinking is not None:
                self._redacted(d.redacted_thinking)
            if d.content:
                self._text(d.content)
            for call in d.tool_calls or ():
                self.calls.feed(call)
        if chunk.finish_reason and chunk.index == 0:
            self.finish = chunk.finish_reason
        return self._flush()

    def end(self, usage: Usage, cost: float | None) -> bytes:
        self._start()
        self._close()
        self.calls.flush()
        self._emit(
            "message_delta",
            {
                "delta": {"stop_reason": stop_reason(self.finish), "stop_sequence": None},
                "usage": messages_usage_to_wire(usage, cost),
            },
        )
        self._emit("message_stop", {})
        return self._flush()

    # -- blocks --------------------------------------------------------------------------

    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        self._emit("message_start", {"message": message})
        self._emit("ping", {})

    def _open_block(self, kind: str, block: JSON) -> int:
        self._close()
        index = self.next_index
        self.next_index += 1
        self.open = kind
        self._emit("content_block_start", {"index": index, "content_block": block})
        return index

    def _close(self) -> None:
        if self.open is None:
            return
        self._emit("content_block_stop", {"index": self.next_index - 1})
        if self.open == "tool":
            self.calls.closed()
        self.open = None

    def _delta(self, delta: JSON) -> None:
        self._emit("content_block_delta", {"index": self.next_index - 1, "delta": delta})

    def _text(self, text: str) -> None:
        if self.open != "text":
            self._open_block("text", {"type": "text", "text": ""})
        self._delta({"type": "text_delta", "text": text})

    def _thinking(self, text: str) -> None:
        if self.open != "thinking" or self.signed:
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self.signed = False
        self._delta({"type": "thinking_delta", "thinking": text})

    def _signature(self, signature: str) -> None:
        if self.open != "thinking" or self.signed:
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        self._delta({"type": "signature_delta", "signature": signature})
        self.signed = True

    def _redacted(self, data: str) -> None:
        self._open_block("redacted", {"type": "redacted_thinking", "data": data})
        self._close()

    def _open_call(self, call: StreamedCall) -> None:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        self._open_block("tool", block)
        if call.arguments:
            self._arguments(call, call.arguments)

    def _arguments(self, call: StreamedCall, text: str) -> None:
        self._delta({"type": "input_json_delta", "partial_json": text})

    # -- output --------------------------------------------------------------------------

    def _emit(self, name: str, payload: JSON) -> None:
        self._out.append(event(name, payload))

    def _flush(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out
