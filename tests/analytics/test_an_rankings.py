"""Rankings as pure functions of period rows: shares, growth, blocs, apps, spend, geography."""

from __future__ import annotations

import msgspec
import pytest

from _an_helpers import END, row
from tokenport.analytics.periods import period_plan
from tokenport.analytics.rankings import Rankings, RankInput, bloc, model_info, rank
from tokenport.analytics.source import KeyInfo
from tokenport.catalog.store import Catalog

MINIMAX = "minimax/MiniMax-M2.5"
KIMI = "moonshotai/kimi-k2.5"
SONNET = "anthropic/claude-sonnet-4-5"
MISTRAL = "mistral/mistral-large-latest"
KEYS = {
    "k_us": KeyInfo("alice", "US"),
    "k_cn": KeyInfo("bo", "CN"),
    "k_de": KeyInfo("carla", "de"),
}


def _tokens(bucket: int, model: str, prompt: int, completion: int = 0, **kw: object) -> object:
    return row(
        bucket,
        model_served=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        requests=1,
        **kw,
    )


def _rankings(catalog: Catalog, data: RankInput, **kw: object) -> Rankings:
    return rank(period_plan("week", "rolling", END, 3), data, catalog, KEYS, **kw)  # type: ignore[arg-type]


def test_model_shares_growth_and_order(catalog: Catalog) -> None:
    data = RankInput(
        models=[
            _tokens(0, MINIMAX, 100),
            _tokens(1, MINIMAX, 200),
            _tokens(2, MINIMAX, 300, 100),
            _tokens(1, KIMI, 400),
            _tokens(2, KIMI, 200),
            _tokens(2, SONNET, 350, cost=2.0),  # new this week
        ]
    )
    r = _rankings(catalog, data)
    models = r.sections["model"].rows
    assert [e.id for e in models] == [
        "minimax/minimax-m2.5",
        "anthropic/claude-sonnet-4-5",
        "moonshotai/kimi-k2.5",
    ]
    top = models[0]
    assert (top.tokens, top.prompt_tokens, top.completion_tokens) == (400, 300, 100)
    assert top.share == pytest.approx(400 / 950)
    assert top.growth == pytest.approx(400 / 200 - 1)
    assert top.growth_span == pytest.approx(400 / 100 - 1)  # span clamps to 2 periods back
    assert top.history == [100, 200, 400]
    assert (top.author, top.country) == ("minimax", "CN")
    assert models[1].growth is None  # no traffic before: "new", not a division by zero
    assert models[2].growth == pytest.approx(-0.5)
    assert r.totals.tokens == 950 and r.totals.cost == pytest.approx(2.0)
    assert r.span == 2 and len(r.periods) == 3 and not r.empty


def test_authors_and_country_blocs(catalog: Catalog) -> None:
    data = RankInput(
        models=[
            _tokens(2, MINIMAX, 300),
            _tokens(2, KIMI, 300),
            _tokens(2, SONNET, 300),
            _tokens(2, MISTRAL, 100),
            _tokens(1, MISTRAL, 50),
        ]
    )
    r = _rankings(catalog, data)
    countries = {e.id: e for e in r.sections["country"].rows}
    assert countries["CN"].share == pytest.approx(0.6)
    assert countries["US"].share == pytest.approx(0.3)
    assert countries["EU"].share == pytest.approx(0.1)  # Mistral is French: the EU bloc
    assert countries["EU"].growth == pytest.approx(1.0)
    authors = {e.id: e for e in r.sections["author"].rows}
    assert authors["minimax"].name == "MiniMax" and authors["minimax"].country == "CN"
    assert bloc("fr") == "EU" and bloc(None) == "??"


def test_failures_without_a_model_are_errors_not_a_model(catalog: Catalog) -> None:
    data = RankInput(models=[_tokens(2, MINIMAX, 100), row(2, requests=3, errors=3)])
    r = _rankings(catalog, data)
    assert [e.id for e in r.sections["model"].rows] == ["minimax/minimax-m2.5"]
    assert [e.id for e in r.sections["country"].rows] == ["CN"]
    assert r.totals.errors == 3 and r.totals.requests == 4


def test_limit_folds_the_rest_into_other(catalog: Catalog) -> None:
    data = RankInput(
        models=[_tokens(2, MINIMAX, 300), _tokens(2, KIMI, 200), _tokens(2, SONNET, 100)]
    )
    section = _rankings(catalog, data, limit=1).sections["model"]
    assert len(section.rows) == 1
    assert section.other is not None
    assert section.other.name == "Other (2)" and section.other.tokens == 300
    assert section.other.share == pytest.approx(0.5)


def test_apps_spend_and_geography(catalog: Catalog) -> None:
    data = RankInput(
        apps=[
            row(2, app="Cline", prompt_tokens=300, requests=3),
            row(1, app="Cline", prompt_tokens=100),
            row(2, app=None, prompt_tokens=50, requests=1),
        ],
        keys=[
            row(2, key_id="k_us", cost=3.0, prompt_tokens=10, requests=1),
            row(2, key_id="k_cn", cost=1.0, prompt_tokens=90, requests=1),
            row(2, key_id="k_de", cost=0.0, prompt_tokens=5, requests=1),
            row(2, key_id="k_gone", cost=0.5, prompt_tokens=5, requests=1),
        ],
    )
    r = _rankings(catalog, data)
    apps = r.sections["app"]
    assert [(e.id, e.share, e.growth) for e in apps.rows] == [("Cline", 1.0, 2.0)]
    assert apps.unattributed is not None and apps.unattributed.requests == 1
    keys = r.sections["key"].rows
    assert [e.name for e in keys] == ["alice", "bo", "k_gone", "carla"]  # by spend
    assert keys[0].share == pytest.approx(3.0 / 4.5)
    assert (keys[3].country, keys[2].country) == ("DE", "??")
    geo = {e.id: e for e in r.sections["geography"].rows}
    assert geo["US"].users == 1 and geo["US"].share == pytest.approx(0.25)
    assert geo["??"].users == 1  # a key id the key table does not know


def test_empty_input_is_an_empty_ranking_not_an_error(catalog: Catalog) -> None:
    r = _rankings(catalog, RankInput())
    assert r.empty
    assert all(not s.rows for s in r.sections.values())
    msgspec.json.encode(r)  # serializable as the API sends it


def test_sections_can_be_chosen(catalog: Catalog) -> None:
    r = _rankings(catalog, RankInput(), sections=("model", "app"))
    assert list(r.sections) == ["model", "app"]


def test_model_info_falls_back_to_the_upstream_id(catalog: Catalog) -> None:
    # A user-declared provider serving a known model, unknown to the catalog under its name.
    info = model_info("my-vllm/MiniMax-M2.5", catalog)
    assert (info.id, info.author, info.country) == ("minimax/minimax-m2.5", "minimax", "CN")
    unknown = model_info("my-box/totally-new-model", catalog)
    assert unknown.author == "unknown" and unknown.country == "??"
    served = model_info(MINIMAX, catalog)
    assert served.name == "MiniMax-M2.5"
