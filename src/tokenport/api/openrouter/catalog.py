"""The catalog in OpenRouter's shapes: a model entry (`GET /api/v1/models`, `/model/...`)
and one endpoint entry per provider serving it (`/api/v1/models/{author}/{slug}/endpoints`).

A field tokenport does not know is null where OpenRouter allows null; where OpenRouter
requires a value, the value says what tokenport knows (e.g. `["text"]` modalities).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.values import EndpointPolicy, Pricing, ProviderSpec

# OpenAI's sampling and output parameters every OpenAI-shaped upstream takes, unless its
# provider entry excludes them or marks them unsupported (providers.toml).
_COMMON_PARAMETERS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
)


class Percentiles(msgspec.Struct, frozen=True):
    """OpenRouter's `PercentileStats`: latency in ms, throughput in tokens per second."""

    p50: float
    p75: float
    p90: float
    p99: float


class EndpointPerf(msgspec.Struct, frozen=True):
    """What tokenport has measured of one route. Every figure is None until measured;
    the routing layer's rolling per-route figures fill it (`endpoint_json`'s `perf`)."""

    latency: Percentiles | None = None  # time to first token, ms
    throughput: Percentiles | None = None  # output tokens per second
    uptime_5m: float | None = None
    uptime_30m: float | None = None
    uptime_1d: float | None = None


UNMEASURED = EndpointPerf()


def per_token(usd_per_m: float) -> str:
    """USD per million tokens as OpenRouter's per-token decimal string."""
    return f"{usd_per_m / 1_000_000:.12f}".rstrip("0").rstrip(".") or "0"


def pricing_json(p: Pricing) -> dict[str, str]:
    out = {"prompt": per_token(p.input), "completion": per_token(p.output)}
    if p.cache_read is not None:  # optional strings: absent, never null, when unknown
        out["input_cache_read"] = per_token(p.cache_read)
    if p.cache_write is not None:
        out["input_cache_write"] = per_token(p.cache_write)
    return out


def canonical_slug(e: ModelEntry) -> str:
    return f"{e.author}/{e.slug}"


def supported_parameters(e: ModelEntry, spec: ProviderSpec | None) -> list[str]:
    """The request parameters this route honours: OpenAI's common ones less what the
    provider drops or cannot serve, plus tools, structured output and reasoning where the
    model and provider take them."""
    refused = set(spec.exclude) | set(spec.unsupported) if spec is not None else set()
    caps = spec.capabilities if spec is not None else None
    params = [p for p in _COMMON_PARAMETERS if p not in refused]
    if caps is None or caps.seed:
        params.append("seed")
    if e.tool_call and (caps is None or caps.tools):
        params += ["tools", "tool_choice", "parallel_tool_calls"]
    if caps is None or caps.response_format:
        params += ["response_format", "structured_outputs"]
    if e.reasoning:
        params += ["reasoning", "include_reasoning"]
    return [p for p in params if p not in refused]


def architecture_json(tokenizer_key: bool) -> dict[str, Any]:
    """Text in, text out: what every catalog entry serves. The model list's schema has
    `tokenizer` optional but not nullable, the endpoints list's nullable but required."""
    arch: dict[str, Any] = {
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "modality": "text->text",
        "instruct_type": None,
    }
    if tokenizer_key:
        arch["tokenizer"] = None
    return arch


def model_json(e: ModelEntry, spec: ProviderSpec | None, available: bool) -> dict[str, Any]:
    """One catalog entry as an OpenRouter `Model`, plus the OpenAI `Model` fields that the
    openai SDKs read on `/v1/models` and tokenport's own (`provider`, `available`, ...)."""
    slug = canonical_slug(e)
    return {
        "id": e.id,
        "canonical_slug": slug,
        "name": e.name,
        "object": "model",
        "created": e.created or 0,  # both SDKs require the field; 0 when unknown
        "owned_by": e.author,
        "provider": e.provider,
        "slug": e.slug,
        "author": e.author,
        "country": e.country,
        "available": available,
        "description": "",
        "hugging_face_id": None,
        "knowledge_cutoff": None,
        "expiration_date": None,
        "context_length": e.context_length,
        "architecture": architecture_json(tokenizer_key=False),
        "pricing": pricing_json(e.pricing),
        "top_provider": {
            "context_length": e.context_length,
            "max_completion_tokens": e.max_output,
            "is_moderated": False,  # tokenport moderates nothing on its own
        },
        "per_request_limits": None,
        "supported_parameters": supported_parameters(e, spec),
        "default_parameters": None,
        "supported_voices": None,
        "links": {"details": f"/api/v1/models/{slug}/endpoints"},
    }


def endpoint_json(
    e: ModelEntry, spec: ProviderSpec | None, up: bool, perf: EndpointPerf = UNMEASURED
) -> dict[str, Any]:
    """One route (a catalog entry at its provider) as an OpenRouter `PublicEndpoint`.

    `up`: the provider's circuit breaker is closed (`status` 0; -1 while it is open).
    `perf`: tokenport's own measurements of the route, null until it has some."""
    tools = e.tool_call and (spec is None or spec.capabilities.tools)
    provider_name = spec.display_name if spec is not None and spec.display_name else e.provider
    return {
        "name": f"{provider_name} | {e.id}",
        "model_id": canonical_slug(e),
        "model_name": e.name,
        "provider_name": provider_name,
        "tag": e.provider,
        "tokenport_model": e.id,  # what to send as `model` to pin this route
        "context_length": e.context_length or 0,  # required integer; 0 when unknown
        "max_completion_tokens": e.max_output,
        "max_prompt_tokens": None,
        "pricing": pricing_json(e.pricing),
        "quantization": _policy(e, spec).quantization if spec is not None else None,
        "service_tier": None,
        "native_tools": {},  # provider-run tools (web search, ...): tokenport runs none
        "supports_diarization": False,
        "status": 0 if up else -1,
        "supported_parameters": supported_parameters(e, spec),
        "supports_implicit_caching": e.pricing.cache_read is not None
        and not (spec is not None and spec.capabilities.cache_control),
        "supports_tool_choice": dict.fromkeys(("auto", "none", "required", "function"), tools),
        "uptime_last_5m": perf.uptime_5m,
        "uptime_last_30m": perf.uptime_30m,
        "uptime_last_1d": perf.uptime_1d,
        "latency_last_30m": _stats(perf.latency),
        "throughput_last_30m": _stats(perf.throughput),
    }


def _stats(p: Percentiles | None) -> dict[str, float] | None:
    return None if p is None else msgspec.structs.asdict(p)


def endpoints_json(group: list[ModelEntry], endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    """A model (all catalog entries sharing author and slug) and its endpoints."""
    first = group[0]
    return {
        "data": {
            "id": canonical_slug(first),
            "name": first.name,
            "created": first.created or 0,
            "description": "",
            "architecture": architecture_json(tokenizer_key=True),
            "endpoints": endpoints,
        }
    }


def _policy(e: ModelEntry, spec: ProviderSpec) -> EndpointPolicy:
    """The route's data policy and serving facts (providers.toml, `[providers.X.endpoints]`)."""
    return spec.policy(e.upstream_id)
