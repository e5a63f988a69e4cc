"""Models and endpoints in OpenRouter's shapes."""

from __future__ import annotations

from tokenport.api.openrouter.catalog import (
    EndpointPerf,
    Percentiles,
    endpoint_json,
    model_json,
    per_token,
    supported_parameters,
)
from tokenport.catalog.model import ModelEntry
from tokenport.values import Capabilities, Pricing, ProviderSpec

ENTRY = ModelEntry(
    id="moonshotai/kimi-k2.5",
    provider="moonshotai",
    upstream_id="kimi-k2.5",
    slug="kimi-k2.5",
    name="Kimi K2.5",
    author="moonshotai",
    country="CN",
    pricing=Pricing(0.6, 2.5, cache_read=0.15),
    context_length=262144,
    max_output=32768,
    reasoning=True,
)
SPEC = ProviderSpec(
    "moonshotai",
    "https://api.example/v1",
    display_name="Moonshot AI",
    exclude=["logit_bias"],
    unsupported=["n"],
)


def test_per_token_prices_are_decimal_strings() -> None:
    assert per_token(0.6) == "0.0000006" and per_token(0.0) == "0" and per_token(15) == "0.000015"


def test_supported_parameters_follow_the_provider_entry() -> None:
    params = supported_parameters(ENTRY, SPEC)
    assert "logit_bias" not in params and "temperature" in params
    assert {"tools", "tool_choice", "response_format", "reasoning", "seed"} <= set(params)
    no_tools = ProviderSpec("x", "http://x", capabilities=Capabilities(tools=False, seed=False))
    assert "tools" not in supported_parameters(ENTRY, no_tools)
    assert "seed" not in supported_parameters(ENTRY, no_tools)


def test_model_entry_is_complete() -> None:
    m = model_json(ENTRY, SPEC, available=True)
    assert m["canonical_slug"] == "moonshotai/kimi-k2.5" and m["created"] == 0
    assert m["architecture"]["input_modalities"] == ["text"]
    assert m["links"] == {"details": "/api/v1/models/moonshotai/kimi-k2.5/endpoints"}
    assert m["pricing"] == {
        "prompt": "0.0000006",
        "completion": "0.0000025",
        "input_cache_read": "0.00000015",
    }
    for unknown in ("default_parameters", "per_request_limits", "supported_voices"):
        assert m[unknown] is None
    assert m["top_provider"] == {
        "context_length": 262144,
        "max_completion_tokens": 32768,
        "is_moderated": False,
    }


def test_endpoint_is_null_until_measured_then_shows_the_figures() -> None:
    e = endpoint_json(ENTRY, SPEC, up=True)
    assert e["provider_name"] == "Moonshot AI" and e["tag"] == "moonshotai" and e["status"] == 0
    assert e["context_length"] == 262144 and e["max_completion_tokens"] == 32768
    assert e["supports_implicit_caching"] is True
    for unknown in ("quantization", "latency_last_30m", "throughput_last_30m", "uptime_last_1d"):
        assert e[unknown] is None
    perf = EndpointPerf(latency=Percentiles(200, 260, 300, 900), uptime_30m=99.5)
    measured = endpoint_json(ENTRY, SPEC, up=False, perf=perf)
    assert measured["latency_last_30m"] == {"p50": 200, "p75": 260, "p90": 300, "p99": 900}
    assert measured["uptime_last_30m"] == 99.5 and measured["status"] == -1


def test_measured_route_speed_fills_the_endpoint_and_a_partial_one_stays_null() -> None:
    from tokenport.api.openrouter.routes import perf_of
    from tokenport.routing.speed import speed_of

    assert perf_of(None).latency is None
    measured = perf_of(speed_of([100.0, 120.0, 300.0, 90.0], [50.0, 40.0, 60.0, 55.0]))
    assert measured.latency is not None and measured.throughput is not None
    assert measured.latency.p50 == 100.0 and measured.latency.p99 == 300.0
    only_ttft = perf_of(speed_of([100.0], []))
    assert only_ttft.latency is not None and only_ttft.throughput is None
