"""The flip point a sensitivity search reports is where the verdict really changes."""

from __future__ import annotations

import msgspec
import pytest

from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics
from tokenport.lab.claims.checks import CHECKERS, check_claims
from tokenport.lab.claims.claim import Claim, ClaimContext, judge, load_claims
from tokenport.lab.claims.prices import shipped_list_prices
from tokenport.lab.claims.sensitivity import describe, flips


def _claim(claim_id: str, **over: object) -> Claim:
    return next(c for c in load_claims({claim_id: over} if over else None) if c.id == claim_id)


def test_the_flip_point_brackets_a_verdict_change() -> None:
    claim = _claim("green_saving_gpus")
    [result] = check_claims(Economics.load(), [claim])
    flip = next(f for f in result.sensitivity if f.knob == "gpus.H100.capex_usd")
    assert flip.flips_at is not None
    for capex, verdict in (
        (flip.flips_at * 1.01, "overstated"),
        (flip.flips_at * 0.99, "consistent"),
    ):
        econ = Economics.load({"gpus": {"H100": {"capex_usd": capex}}})
        assert check_claims(econ, [claim])[0].verdict == verdict
    assert "consistent at 25,0" in describe(flip)


def test_a_robust_verdict_says_so() -> None:
    [result] = check_claims(Economics.load(), [_claim("energy_per_token")])
    assert all(f.flips_at is None for f in result.sensitivity)
    assert "no flip within 100x" in describe(result.sensitivity[0])


def test_an_unknown_knob_names_the_claim() -> None:
    claim = _claim("price_us")
    claim = msgspec.structs.replace(claim, sensitivity=["regions.mars.pue"])
    ctx = ClaimContext(Economics.load(), shipped_list_prices())
    with pytest.raises(CostInputError) as err:
        flips(claim, ctx, CHECKERS[claim.kind])
    assert err.value.field == "claims.price_us.sensitivity"


def test_one_sided_claims() -> None:
    assert judge((50, 50), (0.4, 49.9), 1.25, "at_least")[0] == "consistent"
    assert judge((50, 50), (0.4, 30), 1.25, "at_least")[0::2] == ("overstated", 50 / 30)
    assert judge((50, 50), (60, 90), 1.25, "at_least")[0] == "consistent"
    assert judge((1.1, 1.1), (1.2, 1.3), 1.05, "at_most")[0] == "understated"
    assert judge((1.1, 1.1), (1.0, 1.05), 1.05, "at_most")[0] == "consistent"
