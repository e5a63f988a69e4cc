"""The `provider` filters on endpoint data: data_collection, zdr, quantizations,
require_parameters, through `candidates.plan` as a request meets them."""

from __future__ import annotations

import pytest

from tokenport.catalog.model import ModelEntry
from tokenport.errors import NoEndpoints
from tokenport.providers.base import ProviderState
from tokenport.routing.candidates import plan
from tokenport.routing.filters import request_parameters, wanted
from tokenport.routing.health import Health
from tokenport.values import (
    ChatRequest,
    EndpointPolicy,
    Message,
    Pricing,
    ProviderPrefs,
    ThinkingConfig,
)


def _e(provider: str, price: float) -> ModelEntry:
    return ModelEntry(
        id=f"{provider}/kimi",
        provider=provider,
        upstream_id="kimi",
        slug="kimi",
        name="kimi",
        author="a",
        country="CN",
        pricing=Pricing(price, price),
    )


ENTRIES = [_e("open", 0.1), _e("private", 0.5), _e("vault", 0.9), _e("silent", 0.2)]
ALL = frozenset({"tools", "tool_choice", "max_tokens", "temperature", "seed"})
STATES = {
    "open": ProviderState(
        "open",
        True,
        frozenset(),
        policy=EndpointPolicy("allow", False, "fp8", frozenset({"tools", "max_tokens"})),
    ),
    "private": ProviderState(
        "private", True, frozenset(), policy=EndpointPolicy("deny", False, "bf16", ALL)
    ),
    "vault": ProviderState(
        "vault",
        True,
        frozenset(),
        policy=EndpointPolicy("deny", True, "fp8", ALL),
        # the same provider serves one model quantized harder
        endpoints={"kimi": EndpointPolicy("deny", True, "int4", ALL)},
    ),
    "silent": ProviderState("silent", True, frozenset()),  # declares nothing
}


def _resolve(name: str) -> list[ModelEntry]:
    return ENTRIES if name == "kimi" else [e for e in ENTRIES if e.id == name]


def _plan(prefs: ProviderPrefs, model: str = "kimi", **kw: object) -> list[str]:
    req = ChatRequest(
        model=model, messages=[Message(role="user", content="x")], provider=prefs, **kw
    )  # type: ignore[arg-type]
    return [r.provider for r in plan(req, _resolve, lambda n: [], STATES, Health())]


def test_no_filter_keeps_every_route_and_costs_nothing() -> None:
    assert not wanted(None) and not wanted(ProviderPrefs(sort="price"))
    assert not wanted(ProviderPrefs(data_collection="allow", zdr=False))
    assert _plan(ProviderPrefs()) == ["open", "silent", "private", "vault"]


def test_data_collection_deny_keeps_only_declared_deny() -> None:
    # "silent" says nothing about its data: a privacy filter does not trust silence.
    assert _plan(ProviderPrefs(data_collection="deny")) == ["private", "vault"]


def test_zdr() -> None:
    assert _plan(ProviderPrefs(zdr=True)) == ["vault"]


def test_quantizations_read_the_endpoint_over_the_provider() -> None:
    assert _plan(ProviderPrefs(quantizations=["fp8"])) == ["open"]  # vault's kimi is int4
    assert _plan(ProviderPrefs(quantizations=["int4", "bf16"])) == ["private", "vault"]
    # An undeclared quantization is "unknown", which a client may accept by name.
    assert _plan(ProviderPrefs(quantizations=["unknown"])) == ["silent"]


def test_require_parameters() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    prefs = ProviderPrefs(require_parameters=True)
    assert _plan(prefs, tools=tools, max_tokens=5) == ["open", "private", "vault"]
    assert _plan(prefs, tools=tools, seed=1) == ["private", "vault"]
    # Without require_parameters the same request goes cheapest first, as before.
    assert _plan(ProviderPrefs(), tools=tools, seed=1)[0] == "open"
    # A request with no parameters needs nothing.
    assert _plan(prefs) == ["open", "silent", "private", "vault"]


def test_request_parameters_use_openrouter_names() -> None:
    req = ChatRequest(
        model="m",
        messages=[Message(role="user", content="x")],
        max_completion_tokens=5,
        response_format={"type": "json_schema", "json_schema": {}},
        thinking=ThinkingConfig("enabled", 100),
        extra={"min_p": 0.1, "some_vendor_field": 1},
    )
    assert request_parameters(req) == {
        "max_tokens",
        "response_format",
        "structured_outputs",
        "reasoning",
        "min_p",
    }


@pytest.mark.parametrize(
    ("prefs", "head", "names"),
    [
        (
            ProviderPrefs(data_collection="deny", only=["open", "silent"]),
            "No endpoints found matching your data policy",
            [
                "data_collection: open/kimi (data_collection: allow)",
                "silent/kimi (data_collection: undeclared)",
            ],
        ),
        (
            ProviderPrefs(zdr=True, ignore=["vault"]),
            "No endpoints found matching your data policy",
            ["zdr: private/kimi (zdr: False)"],
        ),
        (
            ProviderPrefs(quantizations=["fp4"]),
            "No endpoints found matching your quantization filter",
            ["open/kimi (quantization: fp8)", "vault/kimi (quantization: int4)"],
        ),
    ],
)
def test_nothing_left_is_openrouters_404_naming_each_exclusion(
    prefs: ProviderPrefs, head: str, names: list[str]
) -> None:
    with pytest.raises(NoEndpoints) as err:
        _plan(prefs)
    assert err.value.status == 404
    assert err.value.message.startswith(head)
    for name in names:
        assert name in err.value.message


def test_require_parameters_404_says_what_is_missing() -> None:
    with pytest.raises(NoEndpoints, match="can handle the requested parameters") as err:
        _plan(ProviderPrefs(require_parameters=True), top_k=5)
    assert "open/kimi (lacks top_k)" in err.value.message
