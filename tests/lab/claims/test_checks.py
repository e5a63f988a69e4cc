"""Claim verdicts are computed from inputs: change the inputs and the verdict follows."""

from __future__ import annotations

import pytest

from tokenport.economics.energy import EnergyTable
from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics
from tokenport.lab.claims.checks import check_claims
from tokenport.lab.claims.claim import ClaimResult, judge, load_claims

ARTICLE_CLAIMS = {
    "energy_per_token",
    "electricity_share",
    "price_gap",
    "price_gap_electricity",
    "price_cn_national",
    "price_cn_west",
    "price_us",
    "price_eu",
    "gap_us_cn_west",
    "green_saving_gpus",
    "pue_west",
    "pue_industry",
    "training_energy",
    "capability_gap",
    "cost_gap",
    "market_share",
    "market_peak",
}


def _by_id(results: list[ClaimResult]) -> dict[str, ClaimResult]:
    return {r.id: r for r in results}


def _one(claim_id: str, econ: Economics | None = None, **overrides: object) -> ClaimResult:
    claims = [
        c for c in load_claims({claim_id: overrides} if overrides else None) if c.id == claim_id
    ]
    return check_claims(econ or Economics.load(), claims)[0]


@pytest.fixture(scope="module")
def shipped() -> dict[str, ClaimResult]:
    return _by_id(check_claims())


def test_judge() -> None:
    verdict, factor, gap = judge((10, 10), (1, 2), 2.0)
    assert (verdict, gap) == ("overstated", 5.0)
    assert factor == pytest.approx(10 / 2**0.5)  # geometric midpoints: 10 / sqrt(1 x 2)
    assert judge((1, 2), (10, 20), 2.0)[0::2] == ("understated", 5.0)
    assert judge((1, 3), (2, 5), 1.0)[0::2] == ("consistent", 1.0)
    verdict, _, gap = judge((2.2, 2.2), (1, 2), 1.25)  # 1.1x apart, within tolerance
    assert verdict == "consistent" and gap == pytest.approx(1.1)


def test_every_article_claim_is_checked(shipped: dict[str, ClaimResult]) -> None:
    assert set(shipped) == ARTICLE_CLAIMS
    for r in shipped.values():
        assert r.arithmetic and r.sources and r.source
        assert r.verdict in ("consistent", "overstated", "understated")


def test_energy_claim_is_about_ten_thousand_times_the_data(shipped: dict[str, ClaimResult]) -> None:
    r = shipped["energy_per_token"]
    assert r.verdict == "overstated"
    assert r.gap > 100 and 1e3 < r.factor < 1e6  # gap: nearest ends, worst row at worst PUE
    # 0.8 kWh / 100 tokens = 28,800 J/token; the worst measured row is 34.3336 J
    assert r.data_high == pytest.approx(34.3336 * 1.5 * 1.54 * 100 / 3.6e6)
    assert any("28,800-43,200 J" in line for line in r.arithmetic)


def test_energy_verdict_flips_with_the_measurements() -> None:
    header = (
        "model_id,task,gpu_model,num_gpus,weight_precision,total_params_b,active_params_b,"
        "max_num_seqs,avg_batch_size,energy_per_token_j,output_tokens_per_s\n"
    )
    row = "meta-llama/Llama-3.1-70B-Instruct,lm-arena-chat,H100,4,bfloat16,70,70,{n},{n},{e},10\n"
    absurd = EnergyTable.from_csv(header + row.format(n=8, e=20_000) + row.format(n=16, e=19_000))
    r = _one("energy_per_token", Economics.load(energy=absurd))
    assert r.verdict == "consistent"


def test_electricity_share_verdict_follows_prices_and_hardware(
    shipped: dict[str, ClaimResult],
) -> None:
    assert shipped["electricity_share"].verdict == "overstated"
    expensive_power = {r: {"usd_per_kwh": 4.0} for r in Economics.load().regions}
    r = _one("electricity_share", Economics.load({"regions": expensive_power}))
    assert r.verdict == "consistent"
    free_hardware = {
        "gpus": {"H100": {"capex_usd": 1}},
        "assumptions": {"other_usd_per_gpu_hour": 0},
    }
    cheap_deepseek = {"deepseek_usd_per_gpu_hour": 0.001}
    r = _one("electricity_share", Economics.load(free_hardware), params=cheap_deepseek)
    assert r.verdict == "understated" and r.data_low > 0.9


def test_regional_price_verdict_follows_the_region_table(shipped: dict[str, ClaimResult]) -> None:
    assert shipped["price_us"].verdict == "overstated"  # EIA ~8.4 c = 0.60 CNY vs claimed 0.8-1.2
    dearer_us = Economics.load({"regions": {"us-avg": {"usd_per_kwh": 0.14}}})
    r = _one("price_us", dearer_us)
    assert r.verdict == "consistent" and r.data_low == pytest.approx(0.14 * 7.2)


def test_claimed_numbers_are_data_too(shipped: dict[str, ClaimResult]) -> None:
    assert shipped["price_gap"].verdict == "consistent"
    assert _one("price_gap", claimed_low=40, claimed_high=40).verdict == "overstated"
    assert (
        _one("price_eu", tolerance=1.0, claimed_low=0.5, claimed_high=0.9).verdict == "understated"
    )


def test_electricity_cannot_explain_the_price_gap(shipped: dict[str, ClaimResult]) -> None:
    r = shipped["price_gap_electricity"]
    assert r.verdict == "overstated"
    assert 1 < r.data_low <= r.data_high < 1.5
    assert any("free electricity" in line for line in r.arithmetic)


def test_claims_resting_on_estimates_are_flagged(shipped: dict[str, ClaimResult]) -> None:
    assert not shipped["price_cn_national"].independent  # the row is the article's own range
    assert not shipped["gap_us_cn_west"].independent  # cn-west is an estimate
    assert shipped["price_us"].independent  # EIA


def test_bad_claim_overrides_name_the_field() -> None:
    with pytest.raises(CostInputError) as err:
        load_claims({"price_us": {"claimed_low": "lots"}})
    assert err.value.field == "claims.price_us.claimed_low"
    with pytest.raises(CostInputError) as err:
        load_claims({"price_us": {"claimed_high": 0.1}})
    assert err.value.field == "claims.price_us.claimed_high"
    with pytest.raises(CostInputError) as err:
        load_claims({"no_such_claim": {}})
    assert err.value.field == "claims.no_such_claim"
    with pytest.raises(CostInputError) as err:
        load_claims({"price_us": {"verdict": "consistent"}})
    assert err.value.field == "claims.price_us.verdict"
