"""DeepSeek's 1 March 2025 disclosure rebuilt from the cost model's parts: every figure within
5 %, and each one moves when the part that carries it moves (nothing is copied across)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics
from tokenport.lab.claims.deepseek import TOLERANCE, Reproduction, figure_text, reproduce


def _rows(rep: Reproduction) -> dict[str, float]:
    return {r.figure: r.reproduced for r in rep.rows}


@pytest.fixture(scope="module")
def shipped() -> Reproduction:
    return reproduce()


def test_every_figure_is_within_five_percent(shipped: Reproduction) -> None:
    assert TOLERANCE == 0.05 and shipped.within_tolerance
    errors = {r.figure: r.error for r in shipped.rows}
    assert set(errors) == {
        "nodes (24 h average)",
        "decode rate from the node count",
        "prefill rate (cache hits included)",
        "daily cost",
        "output",
        "input, blended",
        "input, uncached",
        "input, cached",
        "revenue at R1 prices",
        "cost-profit margin",
    }
    assert all(abs(e) <= 0.05 for e in errors.values()), errors
    # the pinned bounds of today's reproduction: tighter than the 5 % the issue asks for
    assert abs(errors["daily cost"]) < 0.005 and abs(errors["cost-profit margin"]) < 0.005
    assert abs(errors["input, blended"]) < 0.01  # prefill_speedup 5 vs DeepSeek's 73.7/14.8


def test_disclosed_figures_sit_beside_the_reproduction(shipped: Reproduction) -> None:
    by = {r.figure: r for r in shipped.rows}
    assert by["daily cost"].disclosed == 87072 and by["cost-profit margin"].disclosed == 545
    assert by["revenue at R1 prices"].disclosed == 562027
    assert by["daily cost"].reproduced == pytest.approx(86967, abs=1)
    assert all(r.carried_by for r in shipped.rows)
    assert shipped.source["published"] == "2025-03-01"


def test_the_cost_follows_the_cost_models_parts(shipped: Reproduction) -> None:
    base = _rows(shipped)
    slow_prefill = reproduce(economics=Economics.load({"assumptions": {"prefill_speedup": 2.5}}))
    assert _rows(slow_prefill)["nodes (24 h average)"] > base["nodes (24 h average)"] * 1.3
    assert not slow_prefill.within_tolerance
    dearer = reproduce(economics=Economics.load({"gpus": {"H800": {"rental_usd_per_hour": 2.4}}}))
    assert _rows(dearer)["daily cost"] == pytest.approx(base["daily cost"] * 1.2)
    assert _rows(dearer)["revenue at R1 prices"] == base["revenue at R1 prices"]
    assert not dearer.within_tolerance  # a 20 % dearer GPU-hour is a 20 % error, shown


def test_sensitivity_names_the_default_utilisation(shipped: Reproduction) -> None:
    line = next(s for s in shipped.sensitivity if s.startswith("utilisation 0.6"))
    assert "+67%" in line
    assert set(shipped.assumptions) == {
        "usd_per_gpu_hour",
        "prefill_speedup",
        "utilization",
        "cache_hit_cost",
    }


def test_an_unknown_disclosure_names_the_known_ones() -> None:
    with pytest.raises(CostInputError) as err:
        reproduce("openai-2026")
    assert err.value.field == "reproduce" and "deepseek-2025-03" in err.value.message


def test_the_docs_table_is_todays_reproduction(shipped: Reproduction) -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "economics.md").read_text("utf-8")
    for r in shipped.rows:
        row = (
            f"| {r.figure} | {r.unit} | {figure_text(r.disclosed)} | {figure_text(r.reproduced)} |"
        )
        assert row in page, row
        assert f"{r.error:+.2%}".replace("%", " %") in page
