"""Typed values that pass between tokenport's layers.

Wire formats (OpenAI, Anthropic JSON) are parsed into these once at the edge and
serialized from them once in a provider adapter; nothing below the edge sees a
wire dict. They are msgspec Structs because msgspec validates and converts in C,
which keeps the per-request parse cost in the low microseconds.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

JSON = dict[str, Any]
Sort = Literal["price", "latency", "throughput", "cost"]


class Message(msgspec.Struct, omit_defaults=True):
    """One chat message. `content` stays in OpenAI's shape: a string or a list of parts."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[JSON] | None = None
    name: str | None = None
    tool_calls: list[JSON] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class MaxPrice(msgspec.Struct, omit_defaults=True):
    """OpenRouter's `provider.max_price`: USD per million tokens."""

    prompt: float | None = None
    completion: float | None = None


class ProviderPrefs(msgspec.Struct, omit_defaults=True):
    """OpenRouter-compatible `provider` routing preferences."""

    order: list[str] | None = None
    allow_fallbacks: bool = True
    sort: Sort | None = None
    max_price: MaxPrice | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    # tokenport extensions: how far away (network round trip) a route may be.
    latency: Literal["interactive", "tolerant"] | None = None
    max_rtt_ms: float | None = None


class StreamOptions(msgspec.Struct, omit_defaults=True):
    include_usage: bool | None = None


class ChatRequest(msgspec.Struct, omit_defaults=True):
    """A chat completion request as the gateway understands it.

    `extra` carries provider-specific fields the gateway does not know; adapters
    pass them through unchanged.
    """

    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    tools: list[JSON] | None = None
    tool_choice: str | JSON | None = None
    parallel_tool_calls: bool | None = None
    response_format: JSON | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    n: int | None = None
    user: str | None = None
    stream_options: StreamOptions | None = None
    models: list[str] | None = None
    provider: ProviderPrefs | None = None
    extra: JSON = msgspec.field(default_factory=dict)

    def output_cap(self) -> int | None:
        """The most tokens the client allows; `max_completion_tokens` wins when both are set."""
        return (
            self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens
        )


class Usage(msgspec.Struct, omit_defaults=True):
    """Token counts for one request. `prompt_tokens` includes cached and cache-write tokens."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    upstream_cost: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class Choice(msgspec.Struct, omit_defaults=True):
    index: int
    message: Message
    finish_reason: str | None = None


class ChatResponse(msgspec.Struct, omit_defaults=True):
    """A complete (non-streamed) answer from one upstream."""

    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    tool_calls: list[JSON] | None = None
    reasoning_content: str | None = None


class Chunk(msgspec.Struct, omit_defaults=True):
    """One streamed piece. The last chunk of a stream carries `usage` and no delta."""

    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


class Pricing(msgspec.Struct, frozen=True, omit_defaults=True):
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None


class Route(msgspec.Struct, frozen=True):
    """One concrete way to serve a request: which provider, which upstream model, at what price."""

    provider: str
    upstream_model: str
    model_id: str
    pricing: Pricing
    context_length: int | None = None
    max_output: int | None = None  # the most output tokens the route may produce, if known


class Attempt(msgspec.Struct, omit_defaults=True):
    """What happened when one route was tried."""

    provider: str
    model: str
    status: Literal["ok", "error"]
    latency_ms: float
    error_class: str | None = None
    error: str | None = None
    http_status: int | None = None
