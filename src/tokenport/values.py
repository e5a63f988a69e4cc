"""Typed values that pass between tokenport's layers.

Wire formats (OpenAI Chat, Anthropic Messages, OpenAI Responses) are parsed into these once
at a door (`tokenport.wire`) and serialized from them once in a provider adapter; nothing
below the edge sees a wire dict of its own. They are msgspec Structs because msgspec
validates and converts in C, which keeps the per-request parse cost in the low microseconds.

The request is shaped after OpenAI's Chat Completions, the most widely spoken format, so
the chat door needs no translation at all. What other doors carry that Chat cannot (signed
thinking blocks, cache breakpoints, tool-result errors, `top_k`, a thinking budget, beta
headers) has its own typed field here; the OpenAI-compatible adapter drops those fields
unless its provider declares a way to express them.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

JSON = dict[str, Any]
Sort = Literal["price", "latency", "throughput", "cost"]
# Which front door a request came through; recorded in the ledger.
Door = Literal["chat", "messages", "responses", "completions", "embeddings", "gemini"]


class Thinking(msgspec.Struct, omit_defaults=True):
    """One reasoning block as Anthropic returns it.

    `signature` proves the block to Anthropic when a client sends it back on a later turn
    (required on tool-use turns with thinking on); `redacted` carries an encrypted block's
    opaque data instead of text. Reasoning from other upstreams has neither.
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


class ThinkingConfig(msgspec.Struct, omit_defaults=True):
    """Anthropic's `thinking` request field: `enabled` with a token budget, `disabled`, or a
    newer mode (`adaptive`); `display` says whether the client wants the thinking text."""

    type: str = "enabled"
    budget_tokens: int | None = None
    display: str | None = None


class Message(msgspec.Struct, omit_defaults=True):
    """One chat message. `content` stays in OpenAI's shape: a string or a list of parts."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[JSON] | None = None
    name: str | None = None
    tool_calls: list[JSON] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    # Carried for Anthropic; the OpenAI-compatible adapter sends none of these three.
    thinking: list[Thinking] | None = None
    is_error: bool | None = None  # a tool result that reports a failure
    cache_control: JSON | None = None  # a cache breakpoint on the message's last block
    # The last message only: an assistant turn to continue rather than answer, with each
    # upstream's own continuation mechanism (`Continuation`, `gateway/resume.py`).
    prefix: bool | None = None


class MaxPrice(msgspec.Struct, omit_defaults=True):
    """OpenRouter's `provider.max_price`: USD per million tokens."""

    prompt: float | None = None
    completion: float | None = None


DataCollection = Literal["allow", "deny"]
# OpenRouter's quantization vocabulary; "unknown" where a provider does not say.
Quantization = Literal["int4", "int8", "fp4", "fp6", "fp8", "fp16", "bf16", "fp32", "unknown"]
# OpenRouter's request parameter names, as an endpoint's `supported_parameters` lists them.
Parameter = Literal[
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "top_a",
    "min_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "structured_outputs",
    "reasoning",
    "include_reasoning",
    "verbosity",
    "web_search_options",
]


class Percentiles(msgspec.Struct, frozen=True, omit_defaults=True):
    """Cut-offs per percentile, for `preferred_min_throughput` / `preferred_max_latency`."""

    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    p99: float | None = None


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
    # Filters on provider data (`EndpointPolicy`, see docs/provider-routing.md).
    data_collection: DataCollection | None = None
    zdr: bool | None = None
    quantizations: list[Quantization] | None = None
    require_parameters: bool = False
    # Soft preferences on measured speed: routes that miss them go last, never away.
    # Throughput in output tokens per second; latency (time to first token) in seconds.
    preferred_min_throughput: float | Percentiles | None = None
    preferred_max_latency: float | Percentiles | None = None
    # tokenport extension: hedge the first attempt (docs/resilience.md); None: as configured.
    hedge: bool | None = None


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
    logprobs: bool | None = None
    top_logprobs: int | None = None
    reasoning_effort: str | None = None
    models: list[str] | None = None
    provider: ProviderPrefs | None = None
    # Set by doors other than chat; never parsed from a chat body (see `wire.openai_chat`).
    top_k: int | None = None
    thinking: ThinkingConfig | None = None
    anthropic_beta: str | None = None  # the client's `anthropic-beta` header
    door: Door = "chat"
    extra: JSON = msgspec.field(default_factory=dict)
    # OpenRouter's `plugins` (their ids, checked by `tokenport.plugins`); None when none.
    plugins: list[str] | None = None

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
    logprobs: JSON | None = None


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
    # Anthropic's: the signature that closes the current thinking block, or a redacted block.
    signature: str | None = None
    redacted_thinking: str | None = None


class Chunk(msgspec.Struct, omit_defaults=True):
    """One streamed piece. The last chunk of a stream carries `usage` and no delta."""

    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: JSON | None = None


class Pricing(msgspec.Struct, frozen=True, omit_defaults=True):
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None


class EndpointPolicy(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """What a provider does with a model's traffic, as OpenRouter models an endpoint.

    `None` is "not declared": the filters treat it as failing (a route is kept by
    `data_collection: "deny"` only when it is declared to deny). `supported_parameters`
    uses OpenRouter's parameter names (see `routing.filters.PARAMETERS`).
    """

    data_collection: DataCollection | None = None
    zdr: bool | None = None
    quantization: Quantization | None = None
    supported_parameters: frozenset[Parameter] | None = None
    region: str | None = None


class Route(msgspec.Struct, frozen=True):
    """One concrete way to serve a request: which provider, which upstream model, at what price."""

    provider: str
    upstream_model: str
    model_id: str
    pricing: Pricing
    context_length: int | None = None
    max_output: int | None = None  # the most output tokens the route may produce, if known
    policy: EndpointPolicy | None = None  # data policy, quantization, parameters, region


class PluginUse(msgspec.Struct, omit_defaults=True):
    """What one plugin did to a request (`tokenport.plugins`): in the answer and its record.
    `healed`: response-healing repaired the answer; `pages`, `cost`: what file-parser read."""

    id: str
    healed: bool | None = None
    pages: int | None = None
    cost: float | None = None


class Attempt(msgspec.Struct, omit_defaults=True):
    """What happened when one route was tried."""

    provider: str
    model: str
    status: Literal["ok", "error"]
    latency_ms: float
    error_class: str | None = None
    error: str | None = None
    http_status: int | None = None
    # Set on a cascade's calls (`tokenport.cascade`), several of which answer one request:
    # what the call was for ("cheap", "sample", "self_check", "strong") and its cost in USD.
    role: str | None = None
    cost: float | None = None
    # Set on an attempt made after a failure (`gateway/retry.py`, `gateway/resume.py`): "retry"
    # (the same route again), "fallback" (another route) or "resume" (a cut stream continued),
    # and `reason`, the error code of the failure that led to it.
    kind: str | None = None
    reason: str | None = None


class EmbeddingRequest(msgspec.Struct, omit_defaults=True):
    """`POST /v1/embeddings`: OpenAI's fields, plus the gateway's routing fields."""

    model: str
    # A string, or a list of strings, of token ids, or of token-id lists (checked at the door;
    # msgspec's unions allow one list type).
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None
    user: str | None = None
    models: list[str] | None = None
    provider: ProviderPrefs | None = None


class Embedding(msgspec.Struct, omit_defaults=True):
    index: int
    embedding: list[float] | str  # a base64 string with encoding_format "base64"
    object: str = "embedding"


class EmbeddingResponse(msgspec.Struct):
    data: list[Embedding]
    model: str = ""
    usage: Usage | None = None


# ---------------------------------------------------------------------------------------
# Providers as data


WireProtocol = Literal["openai", "anthropic", "gemini"]
# How a provider turns reasoning on and off (see `wire.openai_chat._reasoning_fields`):
# OpenAI's `reasoning_effort`; `thinking: {type}` (GLM, Kimi, DeepSeek); Qwen's
# `enable_thinking` + `thinking_budget`; or no control at all.
ReasoningControl = Literal["effort", "thinking", "enable_thinking", "none"]


class Capabilities(msgspec.Struct, frozen=True):
    tools: bool = True
    response_format: bool = True
    seed: bool = True
    stream_usage: bool = True  # honours stream_options.include_usage
    cache_control: bool = False  # accepts Anthropic-style `cache_control` on parts and tools
    # Knows OpenAI's `developer` role; DeepSeek and others answer 400 "unknown variant", so
    # elsewhere a developer turn goes as the system turn it is.
    developer_role: bool = False
    embeddings: bool = True  # serves POST /embeddings (OpenAI protocol only)


ContinuationMode = Literal["prefix", "partial", "continue_final_message", "prefill", "completion"]


class Continuation(msgspec.Struct, frozen=True, omit_defaults=True):
    """How an upstream continues a partial assistant answer (stream resume, `gateway/resume.py`).

    `mode`: DeepSeek's `prefix: true` on the last assistant message ("prefix"), Kimi's
    `partial: true` ("partial"), vLLM's `continue_final_message` ("continue_final_message"),
    Anthropic's assistant prefill ("prefill"). `reasoning`: the partial reasoning can be sent
    back for the model to go on thinking from it; `tool_arguments`: a tool call's partial
    arguments can. `base_url`: where the mechanism is served, when not at the provider's
    usual base URL (DeepSeek serves prefix completion under /beta).
    """

    mode: ContinuationMode
    reasoning: bool = False
    tool_arguments: bool = False
    base_url: str | None = None


class ProviderSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A provider declared as data (see `providers/providers.toml`).

    `renames` maps a ChatRequest field to the upstream's name for it (e.g.
    max_completion_tokens -> max_tokens); `exclude` lists fields the upstream rejects,
    which are dropped silently; `unsupported` lists fields that make the request
    impossible at this provider (the router skips it, or answers 400).
    """

    name: str
    base_url: str
    protocol: WireProtocol = "openai"
    key_env: str | None = None
    display_name: str | None = None
    renames: dict[str, str] = msgspec.field(default_factory=dict)
    exclude: list[str] = msgspec.field(default_factory=list)
    unsupported: list[str] = msgspec.field(default_factory=list)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    catalog_ids: list[str] = msgspec.field(default_factory=list)
    region: str | None = None
    reasoning: ReasoningControl = "effort"
    capabilities: Capabilities = Capabilities()
    # Data policy and serving facts, for the whole provider and per upstream model id
    # (`endpoints` entries override the provider's fields): see `EndpointPolicy`.
    data_collection: DataCollection | None = None
    zdr: bool | None = None
    quantization: Quantization | None = None
    supported_parameters: frozenset[Parameter] | None = None
    endpoints: dict[str, EndpointPolicy] = msgspec.field(default_factory=dict)

    def policy(self, upstream_model: str | None = None) -> EndpointPolicy:
        """The provider's policy, with `upstream_model`'s own entry over it."""
        base = EndpointPolicy(
            self.data_collection,
            self.zdr,
            self.quantization,
            self.supported_parameters,
            self.region,
        )
        own = self.endpoints.get(upstream_model) if upstream_model else None
        if own is None:
            return base
        merged = {k: v for k, v in msgspec.structs.asdict(own).items() if v is not None}
        return msgspec.structs.replace(base, **merged)

    continuation: Continuation | None = None  # stream resume; None: the provider cannot
