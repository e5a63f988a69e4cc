"""OpenAI's Chat Completions wire format, all four directions, in one place.

    client in     client body -> ChatRequest             `parse_chat_request` (the chat door)
    client out    ChatResponse -> client body / chunks   `encode_chat_response`,
                                                         `encode_chat_chunk`,
                                                         `encode_chat_usage_chunk`
    upstream out  ChatRequest -> upstream body           `chat_upstream_body` (the adapter)
    upstream in   upstream -> ChatResponse / Chunks      `decode_chat_response`,
                                                         `decode_chat_chunk`

The door and the adapter share this module so the two can never drift apart. Decoding
goes straight from bytes into typed msgspec Structs; unknown upstream fields are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from tokenport.errors import BadRequest
from tokenport.values import (
    JSON,
    ChatRequest,
    ChatResponse,
    Choice,
    Chunk,
    Delta,
    Message,
    StreamOptions,
    ThinkingConfig,
    Usage,
)
from tokenport.wire.common import (
    check_range,
    check_tokens,
    convert,
    decode_object,
    wrong_door_error,
)

if TYPE_CHECKING:
    from tokenport.values import ContinuationMode, ProviderSpec

_encoder = msgspec.json.Encoder()

# ---------------------------------------------------------------------------------------
# Client body -> ChatRequest

# Fields other doors set; a chat body carrying them keeps them as pass-through extras
# (a `top_k` from a chat client means what the upstream says it means, as before).
OTHER_DOORS = frozenset({"top_k", "thinking", "anthropic_beta", "door"})
_KNOWN = frozenset(ChatRequest.__struct_fields__) - {"extra"} - OTHER_DOORS
# A client must never steer the gateway's own outbound connections (SSRF) or credentials.
_FORBIDDEN_PASSTHROUGH = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "custom_llm_provider",
        "extra_headers",
        "headers",
        "organization",
        "azure_ad_token",
    }
)
# OpenRouter's own request fields: consumed here, never forwarded (strict upstreams answer
# 400 "Unrecognized request argument" to them).
_OPENROUTER_ONLY = frozenset({"usage", "transforms", "route", "reasoning", "plugins"})


def parse_chat_request(body: bytes) -> ChatRequest:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "chat", "Chat Completions")
    if wrong is not None:
        raise wrong
    openrouter = {k: raw.pop(k) for k in _OPENROUTER_ONLY if k in raw}
    extra = {k: raw.pop(k) for k in list(raw) if k not in _KNOWN}
    for k in _FORBIDDEN_PASSTHROUGH:
        extra.pop(k, None)
    request = convert(raw, ChatRequest, "request")
    request.extra = extra
    _apply_openrouter(request, openrouter)
    _check(request)
    return request


def plugin_ids(plugins: Any) -> list[str]:
    if not isinstance(plugins, list) or not all(
        isinstance(p, dict) and isinstance(p.get("id"), str) for p in plugins
    ):
        raise BadRequest(
            'plugins must be a list of objects with an `id`, e.g. [{"id": "response-healing"}].',
            param="plugins",
        )
    return [p["id"] for p in plugins]


def _apply_openrouter(request: ChatRequest, fields: JSON) -> None:
    """OpenRouter's `usage: {include}`, `reasoning: {effort, max_tokens, enabled}` and
    `plugins: [{"id": ...}]` (which ids exist is `tokenport.plugins`' to say)."""
    if "plugins" in fields:
        request.plugins = plugin_ids(fields["plugins"])
    usage = fields.get("usage")
    if isinstance(usage, dict) and usage.get("include") and request.stream:
        request.stream_options = StreamOptions(include_usage=True)
    reasoning = fields.get("reasoning")
    if not isinstance(reasoning, dict):
        return
    effort = reasoning.get("effort")
    if isinstance(effort, str) and request.reasoning_effort is None:
        request.reasoning_effort = effort
    budget = reasoning.get("max_tokens")
    if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0:
        request.thinking = ThinkingConfig("enabled", budget)
    elif reasoning.get("enabled") is False:
        request.thinking = ThinkingConfig("disabled")


def _check(r: ChatRequest) -> None:
    if not r.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    if not r.messages:
        raise BadRequest("`messages` must contain at least one message.", param="messages")
    check_tokens("max_tokens", r.max_tokens)
    check_tokens("max_completion_tokens", r.max_completion_tokens)
    check_range("temperature", r.temperature, 0.0, 2.0)
    check_range("top_p", r.top_p, 0.0, 1.0)
    check_range("n", r.n, 1, 128)
    check_range("presence_penalty", r.presence_penalty, -2.0, 2.0)
    check_range("frequency_penalty", r.frequency_penalty, -2.0, 2.0)
    check_range("top_logprobs", r.top_logprobs, 0, 20)
    if isinstance(r.stop, list) and len(r.stop) > 4:
        raise BadRequest("`stop` takes at most 4 sequences.", param="stop")


# ---------------------------------------------------------------------------------------
# ChatResponse / Chunks -> client body


def chat_usage_to_wire(usage: Usage, cost: float | None) -> dict[str, Any]:
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


def _message_to_wire(m: Message) -> dict[str, Any]:
    # `content` is always present, null beside tool calls, as OpenAI sends it: clients
    # read `message.content` directly and some test `"content" in message`.
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = m.tool_calls
    if m.reasoning_content:
        out["reasoning_content"] = m.reasoning_content
    return out


def encode_chat_response(
    resp: ChatResponse, usage: Usage, cost: float | None, extra: dict[str, Any] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created,
        "model": resp.model,
        "choices": [
            {
                "index": c.index,
                "message": _message_to_wire(c.message),
                "finish_reason": c.finish_reason,
                "logprobs": c.logprobs,
            }
            for c in resp.choices
        ],
        "usage": chat_usage_to_wire(usage, cost),
    }
    if resp.system_fingerprint:
        body["system_fingerprint"] = resp.system_fingerprint
    if extra:
        body.update(extra)
    return _encoder.encode(body)


def _plain_delta(delta: Delta | None) -> Delta:
    if delta is None:
        return Delta()
    if delta.signature is None and delta.redacted_thinking is None:
        return delta
    # Anthropic's thinking signatures have no place in a Chat Completions delta.
    return msgspec.structs.replace(delta, signature=None, redacted_thinking=None)


def encode_chat_chunk(gen_id: str, model: str, created: int, chunk: Chunk) -> bytes:
    choices: list[dict[str, Any]] = []
    if chunk.delta is not None or chunk.finish_reason is not None:
        choice: dict[str, Any] = {
            "index": chunk.index,
            "delta": _plain_delta(chunk.delta),
            "finish_reason": chunk.finish_reason,
        }
        if chunk.logprobs is not None:
            choice["logprobs"] = chunk.logprobs
        choices.append(choice)
    body: dict[str, Any] = {
        "id": gen_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    return _encoder.encode(body)


def encode_chat_usage_chunk(
    gen_id: str, model: str, created: int, usage: Usage, cost: float | None
) -> bytes:
    return _encoder.encode(
        {
            "id": gen_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": chat_usage_to_wire(usage, cost),
        }
    )


# ---------------------------------------------------------------------------------------
# ChatRequest -> upstream body


# Fields that steer the gateway itself, or that only other doors set, never go upstream
# as they are; reasoning controls are translated per provider below.
_GATEWAY_ONLY = (
    frozenset(
        {"models", "provider", "extra", "stream_options", "stream", "reasoning_effort", "plugins"}
    )
    | OTHER_DOORS
)
# Reasoning effort from a thinking budget, for upstreams that take an effort level.
_EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))


def _effort(request: ChatRequest) -> str | None:
    if request.reasoning_effort is not None:
        return request.reasoning_effort
    t = request.thinking
    if t is None or t.type == "disabled":
        return None
    budget = t.budget_tokens or 0
    return next((level for limit, level in _EFFORT_BUDGETS if budget < limit), "high")


def _reasoning_fields(spec: ProviderSpec, request: ChatRequest) -> dict[str, Any]:
    """The request's reasoning controls in the provider's own words (`spec.reasoning`)."""
    effort = _effort(request)
    thinking = request.thinking
    if spec.reasoning == "effort":
        return {"reasoning_effort": effort} if effort is not None else {}
    wants: bool | None = None
    if thinking is not None:
        wants = thinking.type != "disabled"
    elif effort is not None:
        wants = effort not in ("none", "minimal")
    if wants is None:
        return {}
    if spec.reasoning == "thinking":
        return {"thinking": {"type": "enabled" if wants else "disabled"}}
    if spec.reasoning == "enable_thinking":
        out: dict[str, Any] = {"enable_thinking": wants}
        if wants and thinking is not None and thinking.budget_tokens:
            out["thinking_budget"] = thinking.budget_tokens
        return out
    # "none": the provider has no control we know; an OpenAI-family client's own effort
    # field still goes through, as it was sent.
    if request.door != "messages" and request.reasoning_effort is not None:
        return {"reasoning_effort": request.reasoning_effort}
    return {}


def _strip_cache_control(content: Any) -> Any:
    if not isinstance(content, list) or not any(
        isinstance(p, dict) and "cache_control" in p for p in content
    ):
        return content
    return [
        {k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p
        for p in content
    ]


def _upstream_message(m: Message, keep_cache_control: bool, developer: bool) -> Message:
    """The message as an OpenAI-compatible upstream may see it (no Anthropic-only fields)."""
    content = m.content if keep_cache_control else _strip_cache_control(m.content)
    plain = m.thinking is None and m.is_error is None and m.cache_control is None
    if m.role == "developer" and not developer:
        plain = False
    if plain and content is m.content:
        return m
    calls = m.tool_calls
    if calls and not keep_cache_control and any("cache_control" in c for c in calls):
        calls = [{k: v for k, v in c.items() if k != "cache_control"} for c in calls]
    return msgspec.structs.replace(
        m,
        role="system" if m.role == "developer" and not developer else m.role,
        content=content,
        tool_calls=calls,
        thinking=None,
        is_error=None,
        cache_control=None,
    )


def _upstream_tools(tools: list[JSON], keep_cache_control: bool) -> list[JSON]:
    # Anthropic's server tools (web search, bash, ...) cannot run at an OpenAI upstream.
    out = [t for t in tools if t.get("type", "function") == "function"]
    if not keep_cache_control:
        out = [{k: v for k, v in t.items() if k != "cache_control"} for t in out]
    return out


def chat_upstream_body(spec: ProviderSpec, request: ChatRequest, model: str, stream: bool) -> bytes:
    keep_cc = spec.capabilities.cache_control
    body: dict[str, Any] = {
        k: v
        for k, v in msgspec.structs.asdict(request).items()
        if v is not None and k not in _GATEWAY_ONLY
    }
    developer = spec.capabilities.developer_role
    body["messages"] = [_upstream_message(m, keep_cc, developer) for m in request.messages]
    if request.tools is not None:
        tools = _upstream_tools(request.tools, keep_cc)
        if tools:
            body["tools"] = tools
        else:
            body.pop("tools", None)
            body.pop("tool_choice", None)
            body.pop("parallel_tool_calls", None)
    body.update(_reasoning_fields(spec, request))
    # A Messages body's extras are Anthropic's own fields, a Gemini body's Google's.
    if request.door not in ("messages", "gemini"):
        body.update(request.extra)
    body["model"] = model
    if stream:
        body["stream"] = True
        if spec.capabilities.stream_usage:
            body["stream_options"] = {"include_usage": True}
    cont = spec.continuation
    if cont is not None and request.messages and request.messages[-1].prefix:
        _continue_last(cont.mode, body)
    for name in spec.exclude:
        body.pop(name, None)
    for old, new in spec.renames.items():
        if old in body:
            body[new] = body.pop(old)
    return _encoder.encode(body)


def _continue_last(mode: ContinuationMode, body: dict[str, Any]) -> None:
    """The last (assistant) message is a partial answer to continue: say so in the
    upstream's own words (stream resume, `gateway/resume.py`)."""
    messages = body["messages"]
    last: dict[str, Any] = msgspec.to_builtins(messages[-1])
    del last["prefix"]
    if mode == "prefix":  # DeepSeek
        last["prefix"] = True
    elif mode == "partial":  # Kimi (Moonshot)
        last["partial"] = True
    elif mode == "continue_final_message":  # vLLM (and its chat-template kin)
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    messages[-1] = last  # "prefill": a final assistant turn is continued as it is


# ---------------------------------------------------------------------------------------
# Upstream body -> ChatResponse / Chunks


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


# vLLM's newer releases and OpenRouter name the reasoning text `reasoning`; DeepSeek, Kimi
# and others `reasoning_content`. These subclasses read both into the one IR field, so
# decoding stays a single C pass with no per-chunk copy.
class _WireMessage(Message):
    reasoning: str | None = None


class _WireDelta(Delta):
    reasoning: str | None = None


def _normalize(m: _WireMessage | _WireDelta) -> None:
    if m.reasoning is not None:
        if m.reasoning_content is None:
            m.reasoning_content = m.reasoning
        m.reasoning = None  # so encoding the IR value never repeats it


class _WireChoice(msgspec.Struct):
    message: _WireMessage
    index: int = 0
    finish_reason: str | None = None
    logprobs: JSON | None = None


class _WireResponse(msgspec.Struct):
    choices: list[_WireChoice]
    id: str = ""
    model: str = ""
    created: int = 0
    usage: WireUsage | None = None
    system_fingerprint: str | None = None


class _WireDeltaChoice(msgspec.Struct):
    index: int = 0
    delta: _WireDelta | None = None
    finish_reason: str | None = None
    logprobs: JSON | None = None


class _WireChunk(msgspec.Struct):
    choices: list[_WireDeltaChoice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None
    # Some upstreams report a failure mid-stream as a data payload {"error": {...}}.
    error: dict[str, Any] | str | None = None


class StreamErrorPayload(Exception):
    """An upstream put an error object in its stream; the adapter maps it to its provider."""


_response_decoder = msgspec.json.Decoder(_WireResponse)
_chunk_decoder = msgspec.json.Decoder(_WireChunk)


def decode_chat_response(body: bytes) -> ChatResponse:
    wire = _response_decoder.decode(body)
    choices = []
    for c in wire.choices:
        _normalize(c.message)
        choices.append(Choice(c.index, c.message, c.finish_reason, c.logprobs))
    return ChatResponse(
        id=wire.id,
        model=wire.model,
        created=wire.created,
        choices=choices,
        usage=wire.usage.to_usage() if wire.usage else None,
        system_fingerprint=wire.system_fingerprint,
    )


def decode_chat_chunk(data: bytes) -> list[Chunk]:
    """One upstream SSE data payload -> zero or more typed chunks (usage last)."""
    wire = _chunk_decoder.decode(data)
    if wire.error is not None:
        raise StreamErrorPayload(str(wire.error)[:300])
    out = []
    for c in wire.choices:
        if c.delta is None and c.finish_reason is None:
            continue
        if c.delta is not None:
            _normalize(c.delta)
        out.append(Chunk(c.index, c.delta, c.finish_reason, None, c.logprobs))
    if wire.usage is not None:
        out.append(Chunk(usage=wire.usage.to_usage()))
    return out
