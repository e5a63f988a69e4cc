"""Anthropic Messages answers <-> `ChatResponse`, both ways, and Anthropic's error shape.

upstream Messages body -> ChatResponse   `decode_messages_response`  (the Anthropic adapter)
ChatResponse -> client Messages body     `encode_messages_response` (the messages door)
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import orjson

from tokenport.errors import (
    TokenportError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.redaction import redact
from tokenport.values import JSON, ChatResponse, Choice, Message, Thinking, Usage

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_STOP["content_filter"] = "refusal"


def finish_reason(stop_reason: str | None) -> str | None:
    return None if stop_reason is None else _FINISH.get(stop_reason, "stop")


def stop_reason(finish: str | None) -> str:
    return _STOP.get(finish or "stop", "end_turn")


# ---------------------------------------------------------------------------------------
# Upstream Messages body -> ChatResponse


class WireUsage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None

    def merged(self, later: WireUsage) -> WireUsage:
        """Later counts win where present: message_delta's usage is cumulative."""
        pairs = zip(msgspec.structs.astuple(self), msgspec.structs.astuple(later), strict=True)
        return WireUsage(*(new if new is not None else old for old, new in pairs))

    def to_usage(self) -> Usage:
        read = self.cache_read_input_tokens or 0
        write = self.cache_creation_input_tokens or 0
        return Usage(
            prompt_tokens=(self.input_tokens or 0) + read + write,
            completion_tokens=self.output_tokens or 0,
            cached_tokens=read,
            cache_write_tokens=write,
        )


class WireBlock(msgspec.Struct):
    """A content block. One loose struct, not a tagged union, so new block types decode."""

    type: str
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None


class WireMessage(msgspec.Struct):
    id: str = ""
    model: str = ""
    content: list[WireBlock] = []
    stop_reason: str | None = None
    usage: WireUsage | None = None


_message_decoder = msgspec.json.Decoder(WireMessage)


def tool_call(block: WireBlock, arguments: str | None = None) -> JSON:
    if arguments is None:
        arguments = orjson.dumps(block.input if block.input is not None else {}).decode()
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": arguments},
    }


def _thinking(block: WireBlock) -> Thinking | None:
    if block.type == "thinking":
        return Thinking(block.thinking or "", block.signature or None)
    if block.type == "redacted_thinking":
        return Thinking(redacted=block.data or "")
    return None


def decode_messages_response(provider: str, raw: bytes) -> ChatResponse:
    try:
        wire = _message_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamProtocolError(provider, f"unreadable answer: {exc}") from exc
    text = "".join(b.text or "" for b in wire.content if b.type == "text")
    thinking = [t for t in map(_thinking, wire.content) if t is not None]
    reasoning = "".join(t.text for t in thinking)
    calls = [tool_call(b) for b in wire.content if b.type == "tool_use"]
    message = Message(
        role="assistant",
        content=None if calls and not text else text,
        tool_calls=calls or None,
        reasoning_content=reasoning or None,
        thinking=thinking or None,
    )
    return ChatResponse(
        id=wire.id,
        model=wire.model,
        created=int(time.time()),
        choices=[Choice(index=0, message=message, finish_reason=finish_reason(wire.stop_reason))],
        usage=wire.usage.to_usage() if wire.usage is not None else None,
    )


# ---------------------------------------------------------------------------------------
# ChatResponse -> client Messages body


def messages_usage_to_wire(usage: Usage, cost: float | None) -> JSON:
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    wire: JSON = {
        "input_tokens": usage.prompt_tokens - cached - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }
    if cost is not None:
        wire["cost"] = cost
    if usage.estimated:
        wire["estimated"] = True
    return wire


def thinking_blocks(message: Message) -> list[JSON]:
    """Signed blocks as they came; another model's reasoning as one unsigned block."""
    if message.thinking:
        return [
            {"type": "redacted_thinking", "data": t.redacted}
            if t.redacted is not None
            else {"type": "thinking", "thinking": t.text, "signature": t.signature or ""}
            for t in message.thinking
        ]
    if message.reasoning_content:
        return [{"type": "thinking", "thinking": message.reasoning_content, "signature": ""}]
    return []


def tool_use_block(call: JSON) -> JSON:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        tool_input = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        # A model emitted broken JSON; hand it over rather than lose the call.
        tool_input = {"_raw_arguments": arguments}
    return {
        "type": "tool_use",
        "id": call.get("id") or "",
        "name": function.get("name") or "",
        "input": tool_input if isinstance(tool_input, dict) else {"value": tool_input},
    }


def content_blocks(message: Message) -> list[JSON]:
    blocks = thinking_blocks(message)
    if isinstance(message.content, str) and message.content:
        blocks.append({"type": "text", "text": message.content})
    elif isinstance(message.content, list):
        text = "".join(str(p.get("text", "")) for p in message.content if p.get("type") == "text")
        if text:
            blocks.append({"type": "text", "text": text})
    blocks.extend(tool_use_block(c) for c in message.tool_calls or ())
    return blocks


def encode_messages_response(
    resp: ChatResponse, usage: Usage, cost: float | None, extra: JSON | None = None
) -> bytes:
    choice = resp.choices[0] if resp.choices else None
    message = choice.message if choice is not None else Message(role="assistant")
    body: JSON = {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content_blocks(message),
        "stop_reason": stop_reason(choice.finish_reason if choice else None),
        "stop_sequence": None,
        "usage": messages_usage_to_wire(usage, cost),
    }
    if extra:
        body.update(extra)
    return orjson.dumps(body)


# ---------------------------------------------------------------------------------------
# Errors, both ways

# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_object(exc: TokenportError, message: str) -> JSON:
    kind = _ERROR_TYPES.get(exc.status)
    if kind is None:
        kind = "api_error" if exc.status >= 500 else "invalid_request_error"
    return {"type": kind, "message": message}


def error_body(exc: TokenportError, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": error_object(exc, message)})


_UPSTREAM_ERRORS: dict[str, type[UpstreamError]] = {
    "rate_limit_error": UpstreamRateLimited,
    "authentication_error": UpstreamAuthError,
    "permission_error": UpstreamAuthError,
    "invalid_request_error": UpstreamBadRequest,
    "not_found_error": UpstreamBadRequest,
    "request_too_large": UpstreamBadRequest,
    "timeout_error": UpstreamTimeout,
}


def stream_error(provider: str, kind: str, message: str) -> UpstreamError:
    """An upstream's `error` event as the matching UpstreamError (overloaded, api: server)."""
    cls = _UPSTREAM_ERRORS.get(kind, UpstreamServerError)
    return cls(provider, f"error in stream ({kind}): {redact(message)[:300]}")
