"""OpenAI's chat-completions wire format, both directions, in one place.

Used by the API edge (client <-> gateway) and by the OpenAI-compatible adapter
(gateway <-> upstream), so the two can never drift apart. Decoding goes straight from
bytes into typed msgspec Structs; unknown upstream fields are ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.types import ChatResponse, Choice, Chunk, Delta, Message, Usage

_encoder = msgspec.json.Encoder()


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_creation_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class WireUsage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek reports cache hits here
    cost: float | None = None  # OpenRouter and some others report what they charged

    def to_usage(self) -> Usage:
        ptd, ctd = self.prompt_tokens_details, self.completion_tokens_details
        cached = (ptd.cached_tokens if ptd else None) or self.prompt_cache_hit_tokens or 0
        written = (ptd.cache_write_tokens or ptd.cache_creation_tokens or 0) if ptd else 0
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cached_tokens=cached,
            cache_write_tokens=written,
            reasoning_tokens=(ctd.reasoning_tokens or 0) if ctd else 0,
            upstream_cost=self.cost,
        )


class _WireResponse(msgspec.Struct):
    choices: list[Choice]
    id: str = ""
    model: str = ""
    created: int = 0
    usage: WireUsage | None = None
    system_fingerprint: str | None = None


class _WireDeltaChoice(msgspec.Struct):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class _WireChunk(msgspec.Struct):
    choices: list[_WireDeltaChoice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None
    # Some upstreams report a failure mid-stream as a data payload {"error": {...}}.
    error: dict[str, Any] | str | None = None


class StreamErrorPayload(Exception):
    """An upstream put an error object in its stream; the adapter maps it to its provider."""


_response_decoder = msgspec.json.Decoder(_WireResponse)
_chunk_decoder = msgspec.json.Decoder(_WireChunk)


def decode_response(body: bytes) -> ChatResponse:
    wire = _response_decoder.decode(body)
    return ChatResponse(
        id=wire.id,
        model=wire.model,
        created=wire.created,
        choices=wire.choices,
        usage=wire.usage.to_usage() if wire.usage else None,
        system_fingerprint=wire.system_fingerprint,
    )


def decode_chunk(data: bytes) -> list[Chunk]:
    """One upstream SSE data payload -> zero or more typed chunks (usage last)."""
    wire = _chunk_decoder.decode(data)
    if wire.error is not None:
        raise StreamErrorPayload(str(wire.error)[:300])
    out = [
        Chunk(index=c.index, delta=c.delta, finish_reason=c.finish_reason)
        for c in wire.choices
        if c.delta is not None or c.finish_reason is not None
    ]
    if wire.usage is not None:
        out.append(Chunk(usage=wire.usage.to_usage()))
    return out


def usage_to_wire(usage: Usage, cost: float | None) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if cost is not None:
        wire["cost"] = cost
    if usage.estimated:
        wire["estimated"] = True
    if usage.upstream_cost is not None:
        wire["upstream_cost"] = usage.upstream_cost
    return wire


def encode_response(
    resp: ChatResponse, usage: Usage, cost: float | None, extra: dict[str, Any] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created,
        "model": resp.model,
        "choices": resp.choices,
        "usage": usage_to_wire(usage, cost),
    }
    if resp.system_fingerprint:
        body["system_fingerprint"] = resp.system_fingerprint
    if extra:
        body.update(extra)
    return _encoder.encode(body)


def encode_chunk(gen_id: str, model: str, created: int, chunk: Chunk) -> bytes:
    choices: list[dict[str, Any]] = []
    if chunk.delta is not None or chunk.finish_reason is not None:
        choices.append(
            {
                "index": chunk.index,
                "delta": chunk.delta or Delta(),
                "finish_reason": chunk.finish_reason,
            }
        )
    body: dict[str, Any] = {
        "id": gen_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    return _encoder.encode(body)


def encode_usage_chunk(
    gen_id: str, model: str, created: int, usage: Usage, cost: float | None
) -> bytes:
    return _encoder.encode(
        {
            "id": gen_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage_to_wire(usage, cost),
        }
    )


def message_text(message: Message) -> str:
    """The plain text of a message, for token estimates."""
    content = message.content
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        text = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if message.tool_calls:
        text += " " + _encoder.encode(message.tool_calls).decode()
    return text
