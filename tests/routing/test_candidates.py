from __future__ import annotations

import pytest

from tokenport.catalog.model import ModelEntry
from tokenport.errors import BadRequest, ModelNotFound, ProviderNotConfigured
from tokenport.providers.base import ProviderState
from tokenport.routing.candidates import plan, split_suffix
from tokenport.routing.health import Health
from tokenport.values import ChatRequest, MaxPrice, Message, Pricing, ProviderPrefs


def _e(provider: str, slug: str, inp: float, out: float) -> ModelEntry:
    return ModelEntry(
        id=f"{provider}/{slug}",
        provider=provider,
        upstream_id=slug,
        slug=slug,
        name=slug,
        author="a",
        country="CN",
        pricing=Pricing(inp, out),
    )


ENTRIES = [
    _e("pricey", "kimi", 1.0, 4.0),
    _e("cheap", "kimi", 0.5, 2.0),
    _e("mid", "kimi", 0.6, 3.0),
    _e("cheap", "glm", 0.1, 0.2),
]


def _resolve(name: str) -> list[ModelEntry]:
    exact = [e for e in ENTRIES if e.id == name]
    return exact or [e for e in ENTRIES if e.slug == name]


def _suggest(name: str) -> list[str]:
    return [e.id for e in ENTRIES if e.slug[:2] == name[:2]]


STATES = {p: ProviderState(p, True, frozenset()) for p in ("pricey", "cheap", "mid")}


def _plan(
    states: dict[str, ProviderState] | None = None, health: Health | None = None, **kw: object
) -> list[str]:
    req = ChatRequest(messages=[Message(role="user", content="x")], **kw)  # type: ignore[arg-type]
    routes = plan(req, _resolve, _suggest, states or STATES, health or Health())
    return [r.model_id for r in routes]


def test_slug_goes_cheapest_first() -> None:
    assert _plan(model="kimi") == ["cheap/kimi", "mid/kimi", "pricey/kimi"]


def test_exact_id_and_fallback_models_keep_order() -> None:
    assert _plan(model="pricey/kimi", models=["glm"]) == ["pricey/kimi", "cheap/glm"]


def test_suffixes() -> None:
    assert split_suffix("kimi:floor") == ("kimi", "price")
    assert split_suffix("kimi:nitro") == ("kimi", "throughput")
    assert split_suffix("a:b") == ("a:b", None)
    h = Health()
    h.record_success("pricey", "pricey/kimi", 10, 1000, 1.0)
    h.record_success("mid", "mid/kimi", 10, 100, 1.0)
    assert _plan(model="kimi:nitro", health=h)[:2] == ["pricey/kimi", "mid/kimi"]


def test_provider_preferences() -> None:
    assert _plan(model="kimi", provider=ProviderPrefs(only=["mid", "pricey"])) == [
        "mid/kimi",
        "pricey/kimi",
    ]
    assert _plan(model="kimi", provider=ProviderPrefs(ignore=["cheap"])) == [
        "mid/kimi",
        "pricey/kimi",
    ]
    assert _plan(model="kimi", provider=ProviderPrefs(order=["pricey"])) == [
        "pricey/kimi",
        "cheap/kimi",
        "mid/kimi",
    ]
    assert _plan(model="kimi", provider=ProviderPrefs(order=["pricey"], allow_fallbacks=False)) == [
        "pricey/kimi"
    ]
    assert _plan(model="kimi", provider=ProviderPrefs(max_price=MaxPrice(completion=3.0))) == [
        "cheap/kimi",
        "mid/kimi",
    ]


def test_latency_sort_uses_live_estimates() -> None:
    h = Health()
    h.record_success("pricey", "pricey/kimi", 20, 10, 1.0)
    h.record_success("cheap", "cheap/kimi", 300, 10, 1.0)
    assert _plan(model="kimi", provider=ProviderPrefs(sort="latency"), health=h)[0] == "pricey/kimi"


def test_open_breaker_goes_last() -> None:
    h = Health(failure_threshold=1)
    h.record_failure("cheap", "cheap/kimi", None)
    assert _plan(model="kimi", health=h) == ["mid/kimi", "pricey/kimi", "cheap/kimi"]


def test_unsupported_param_skips_provider_or_400() -> None:
    states = dict(STATES, cheap=ProviderState("cheap", True, frozenset({"seed"})))
    assert _plan(states, model="kimi", seed=1)[0] == "mid/kimi"
    with pytest.raises(BadRequest, match="cheap does not support seed"):
        _plan(states, model="cheap/glm", seed=1)


def test_unknown_model_404_with_suggestions() -> None:
    with pytest.raises(ModelNotFound) as err:
        _plan(model="kimmi")
    assert "cheap/kimi" in err.value.message


def test_unconfigured_provider_404_names_the_key() -> None:
    states = dict(STATES, cheap=ProviderState("cheap", False, frozenset(), "CHEAP_API_KEY"))
    with pytest.raises(ProviderNotConfigured, match="cheap needs CHEAP_API_KEY") as err:
        _plan(states, model="cheap/glm")
    assert err.value.status == 404 and err.value.code == "provider_not_configured"


def test_cost_sort_uses_deployment_cost_beside_list_prices() -> None:
    # "pricey" is self-hosted: its list price is irrelevant, its marginal cost is tiny.
    states = dict(
        STATES, pricey=ProviderState("pricey", True, frozenset(), cost=Pricing(0.01, 0.02))
    )
    assert _plan(states, model="kimi", provider=ProviderPrefs(sort="cost"))[0] == "pricey/kimi"
    assert _plan(states, model="kimi")[0] == "cheap/kimi"  # price sort still uses list prices


def test_latency_budget_drops_far_routes() -> None:
    states = dict(STATES, cheap=ProviderState("cheap", True, frozenset(), rtt_ms=300))
    req = ChatRequest(model="kimi", messages=[Message(role="user", content="x")])
    routes = plan(req, _resolve, _suggest, states, Health(), max_rtt_ms=150)
    assert [r.provider for r in routes] == ["mid", "pricey"]
