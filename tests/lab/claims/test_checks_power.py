"""The power claims: green-power saving and its GPUs, PUE, training energy."""

from __future__ import annotations

import pytest

from tokenport.economics.settings import Economics
from tokenport.lab.claims.checks import check_claims
from tokenport.lab.claims.claim import ClaimResult, load_claims


def _one(claim_id: str, econ: Economics | None = None, **overrides: object) -> ClaimResult:
    claims = [
        c for c in load_claims({claim_id: overrides} if overrides else None) if c.id == claim_id
    ]
    return check_claims(econ or Economics.load(), claims)[0]


def test_the_saving_pays_for_far_less_than_15_percent() -> None:
    r = _one("green_saving_gpus")
    assert r.verdict == "overstated" and not r.independent  # cn-west is an estimate
    assert 0.04 < r.data_low < r.data_high < 0.08
    assert any("implies a centre of" in line and "MW of IT load" in line for line in r.arithmetic)
    assert any("14.1% of the GPUs" in line for line in r.arithmetic)  # the articles' own prices
    capex = next(f for f in r.sensitivity if f.knob == "gpus.H100.capex_usd")
    assert capex.to == "consistent" and 20_000 < (capex.flips_at or 0) < 30_000


def test_the_saving_verdict_follows_the_gpu_price() -> None:
    bare_gpu = Economics.load({"gpus": {"H100": {"capex_usd": 20_000}}})
    assert _one("green_saving_gpus", bare_gpu).verdict == "consistent"


def test_pue_claims() -> None:
    west = _one("pue_west")
    assert west.verdict == "consistent" and (west.data_low, west.data_high) == (1.1, 1.2)
    assert west.bound == "at_most"
    worse = Economics.load({"regions": {"cn-west": {"pue": 1.3}}})
    assert _one("pue_west", worse, params={"best_pue": 1.25}).verdict == "understated"
    industry = _one("pue_industry")
    assert industry.verdict == "consistent" and industry.data_low == 1.54
    assert any("What it is worth" in line for line in industry.arithmetic)


def test_training_energy_reaches_50_gwh_only_at_the_top_end() -> None:
    r = _one("training_energy")
    assert r.verdict == "consistent" and r.bound == "at_least"
    assert r.data_high == pytest.approx(30.84e6 * 700 * 1.5 * 1.54 / 1e9)  # Llama 3.1 405B
    assert r.data_low == pytest.approx(0.433)  # BLOOM, as published
    leaner_hosts = Economics.load({"assumptions": {"host_overhead": 1.2}})
    assert _one("training_energy", leaner_hosts).verdict == "overstated"
