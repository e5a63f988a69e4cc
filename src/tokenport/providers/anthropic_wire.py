"""Anthropic Messages API wire format <-> tokenport's typed values. Pure functions, no I/O.

Judgement calls, where OpenAI's shape has no exact Anthropic twin:

- system and developer messages, wherever they appear, are hoisted into `system`.
- Consecutive turns of one role are merged (tool results for parallel calls must share
  one user turn, and they must come right after the assistant's `tool_use`).
- `temperature` is clamped to Anthropic's 0..1 (OpenAI's scale runs to 2): a request meant
  for any provider should not fail at one for a scale difference.
- `response_format` (json_object / json_schema) becomes an instruction appended to
  `system`, with the schema inlined. It is best effort: Anthropic has no JSON mode.
- `seed`, penalties, `logit_bias` and `n` have no Anthropic equivalent and are dropped;
  `user` becomes `metadata.user_id`; `parallel_tool_calls=false` becomes
  `disable_parallel_tool_use`. `extra` fields (e.g. `thinking`, `top_k`) pass through last.
- Assistant `reasoning_content` is not sent back: Anthropic needs signed thinking blocks.
- Image parts: data URLs become base64 image blocks, http(s) URLs become URL image blocks.
  Content parts of other types are passed through as Anthropic-native blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from tokenport.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.providers.http import redact
from tokenport.types import JSON, ChatRequest, ChatResponse, Choice, Chunk, Delta, Message, Usage

DEFAULT_MAX_TOKENS = 4096
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# ---------------------------------------------------------------------------------------
# Request: ChatRequest -> Messages body


def _text_block(text: str) -> JSON:
    return {"type": "text", "text": text}


def _image_block(url: str) -> JSON:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media_type = head[5:].split(";")[0] or "image/png"
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _part(part: JSON) -> JSON:
    kind = part.get("type")
    if kind == "text":
        block = _text_block(str(part.get("text", "")))
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        return block
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else str(image or "")
        return _image_block(url)
    # Already Anthropic-shaped (document, search_result, ...) or unknown: the upstream decides.
    return part


def _blocks(content: str | list[JSON] | None) -> list[JSON]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [_text_block(content)]
    return [_part(p) for p in content]


def _tool_use(provider: str, call: JSON) -> JSON:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        tool_input = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadRequest(provider, "a tool call's arguments are not valid JSON") from exc
    if not isinstance(tool_input, dict):
        raise UpstreamBadRequest(provider, "a tool call's arguments are not a JSON object")
    return {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": function.get("name", ""),
        "input": tool_input,
    }


def _turn(provider: str, message: Message) -> tuple[str, list[JSON]]:
    """One OpenAI message as (Anthropic role, content blocks)."""
    if message.role in ("tool", "function"):
        result: JSON = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or message.name or "",
        }
        if message.content:
            result["content"] = (
                message.content if isinstance(message.content, str) else _blocks(message.content)
            )
        return "user", [result]
    blocks = _blocks(message.content)
    if message.role == "assistant":
        blocks += [_tool_use(provider, call) for call in message.tool_calls or []]
    return ("assistant" if message.role == "assistant" else "user"), blocks


def _messages(provider: str, messages: list[Message]) -> list[JSON]:
    out: list[JSON] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role, blocks = _turn(provider, message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:  # a lone plain text block is sent as a string, as most clients do
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    return out


def _format_instruction(response_format: JSON | None) -> str | None:
    kind = (response_format or {}).get("type")
    if kind == "json_object":
        return "Respond with a single JSON object and nothing else."
    if kind == "json_schema":
        schema = (response_format or {}).get("json_schema") or {}
        text = orjson.dumps(schema.get("schema", schema)).decode()
        return (
            f"Respond with one JSON value that conforms to this JSON Schema, nothing else: {text}"
        )
    return None


def _system(request: ChatRequest) -> str | list[JSON] | None:
    blocks = [
        b for m in request.messages if m.role in ("system", "developer") for b in _blocks(m.content)
    ]
    instruction = _format_instruction(request.response_format)
    if instruction:
        blocks.append(_text_block(instruction))
    if not blocks:
        return None
    if all(set(b) == {"type", "text"} for b in blocks):
        return "\n\n".join(b["text"] for b in blocks)
    return blocks  # keeps cache_control on system parts


def _tool(tool: JSON) -> JSON:
    if tool.get("type") != "function":
        return tool  # an Anthropic server tool (web_search, ...) sent natively
    function = tool.get("function") or {}
    out: JSON = {
        "name": function.get("name", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    if "cache_control" in tool:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(choice: str | JSON | None, parallel: bool | None) -> JSON | None:
    if choice is None:
        out: JSON | None = None
    elif isinstance(choice, str):
        out = {"type": {"auto": "auto", "none": "none", "required": "any"}.get(choice, "auto")}
    elif choice.get("type") == "function":
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    else:
        out = choice  # already Anthropic-shaped: {"type": "any"} etc.
    if parallel is False and (out is None or out.get("type") != "none"):
        out = {"type": "auto", **(out or {}), "disable_parallel_tool_use": True}
    return out


def _sampling(request: ChatRequest) -> JSON:
    out: JSON = {}
    if request.temperature is not None:
        out["temperature"] = min(1.0, max(0.0, request.temperature))
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop:
        out["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    if request.user:
        out["metadata"] = {"user_id": request.user}
    return out


def build_body(
    provider: str, request: ChatRequest, model: str, stream: bool, exclude: list[str]
) -> bytes:
    """The Messages request body. `exclude` names top-level keys the upstream rejects."""
    body: JSON = {
        "model": model,
        "max_tokens": request.output_cap() or DEFAULT_MAX_TOKENS,
        "messages": _messages(provider, request.messages),
    }
    system = _system(request)
    if system:
        body["system"] = system
    body.update(_sampling(request))
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice:
            body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    body.update(request.extra)
    for key in exclude:
        body.pop(key, None)
    return orjson.dumps(body)


# ---------------------------------------------------------------------------------------
# Response: Messages body -> ChatResponse


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


def finish_reason(stop_reason: str | None) -> str | None:
    return None if stop_reason is None else _FINISH.get(stop_reason, "stop")


def _call(block: WireBlock) -> JSON:
    arguments = orjson.dumps(block.input if block.input is not None else {}).decode()
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": arguments},
    }


def parse_response(provider: str, raw: bytes) -> ChatResponse:
    try:
        wire = _message_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamProtocolError(provider, f"unreadable answer: {exc}") from exc
    text = "".join(b.text or "" for b in wire.content if b.type == "text")
    reasoning = "".join(b.thinking or "" for b in wire.content if b.type == "thinking")
    calls = [_call(b) for b in wire.content if b.type == "tool_use"]
    message = Message(
        role="assistant",
        content=None if calls and not text else text,
        tool_calls=calls or None,
        reasoning_content=reasoning or None,
    )
    return ChatResponse(
        id=wire.id,
        model=wire.model,
        created=int(time.time()),
        choices=[Choice(index=0, message=message, finish_reason=finish_reason(wire.stop_reason))],
        usage=wire.usage.to_usage() if wire.usage is not None else None,
    )


# ---------------------------------------------------------------------------------------
# Errors reported inside a 200 stream


_ERRORS: dict[str, type[UpstreamError]] = {
    "rate_limit_error": UpstreamRateLimited,
    "authentication_error": UpstreamAuthError,
    "permission_error": UpstreamAuthError,
    "invalid_request_error": UpstreamBadRequest,
    "not_found_error": UpstreamBadRequest,
    "request_too_large": UpstreamBadRequest,
    "timeout_error": UpstreamTimeout,
}


def stream_error(provider: str, kind: str, message: str) -> UpstreamError:
    """An Anthropic `error` event as the matching UpstreamError (overloaded, api: server)."""
    cls = _ERRORS.get(kind, UpstreamServerError)
    return cls(provider, f"error in stream ({kind}): {redact(message)[:300]}")


# ---------------------------------------------------------------------------------------
# Stream: Messages events -> Chunks


class WireDelta(msgspec.Struct):
    type: str = ""
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
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
    """Turns one stream's events into Chunks. Unknown events (and `ping`) yield nothing."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.usage: WireUsage | None = None
        self.tool_index: dict[int, int] = {}  # content block index -> OpenAI tool_calls index
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
            call = {"index": index, **_call(msgspec.structs.replace(block, input=None))}
            call["function"]["arguments"] = ""
            return [Chunk(delta=Delta(tool_calls=[call]))]
        return [Chunk(delta=Delta(content=block.text))] if block.text else []

    def _on_content_block_delta(self, event: WireEvent) -> list[Chunk]:
        delta = event.delta or WireDelta()
        if delta.type == "text_delta" and delta.text:
            return [Chunk(delta=Delta(content=delta.text))]
        if delta.type == "input_json_delta" and delta.partial_json:
            index = self.tool_index.get(event.index, 0)
            call = {"index": index, "function": {"arguments": delta.partial_json}}
            return [Chunk(delta=Delta(tool_calls=[call]))]
        if delta.type == "thinking_delta" and delta.thinking:
            return [Chunk(delta=Delta(reasoning_content=delta.thinking))]
        return []  # signature_delta, citations_delta, ...

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
    "message_delta": StreamState._on_message_delta,
    "message_stop": StreamState._on_message_stop,
    "error": StreamState._on_error,
}
