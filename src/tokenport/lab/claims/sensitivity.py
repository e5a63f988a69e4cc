"""Which assumption would flip a verdict, and where: each knob a claim names is scaled up and
down until the verdict changes, then bisected to the flip point.

A knob is a dotted name:

    params.<key>                 a number in the claim's own `params`
    assumptions.<field>          the cost model's defaults (data/assumptions.toml)
    regions.<id>.usd_per_kwh     a region's price (its low/high move with it), or .pue
    gpus.<id>.<field>            capex_usd, board_power_w or rental_usd_per_hour

The search stops where an input leaves its valid range (a PUE below 1, a share above 1), so a
flip point is always a value the model accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics
from tokenport.lab.claims.claim import Checker, Claim, ClaimContext, Flip, Verdict, verdict_of

SEARCH = 100.0  # how far (a factor either way) a knob is moved before giving up
STEPS = (1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, SEARCH)
BISECTIONS = 14
GPU_FIELDS = ("capex_usd", "board_power_w", "rental_usd_per_hour")
Scaled = Callable[[float], tuple[Claim, ClaimContext]]


def flips(claim: Claim, ctx: ClaimContext, checker: Checker) -> list[Flip]:
    return [_flip(claim, ctx, checker, knob) for knob in claim.sensitivity]


def _flip(claim: Claim, ctx: ClaimContext, checker: Checker, knob: str) -> Flip:
    value, scaled = _knob(claim, ctx, knob)

    def verdict(factor: float) -> Verdict | None:
        try:
            c, x = scaled(factor)
            return verdict_of(c, checker(c, x))[0]
        except CostInputError:
            return None  # outside the input's valid range

    now = verdict(1.0)
    best: tuple[float, Verdict] | None = None
    for sign in (1, -1):
        found = _search(verdict, now, sign)
        if found and (best is None or abs(math.log(found[0])) < abs(math.log(best[0]))):
            best = found
    if best is None:
        return Flip(knob, value, None, None, SEARCH)
    return Flip(knob, value, value * best[0], best[1], SEARCH)


def _search(
    verdict: Callable[[float], Verdict | None], now: Verdict | None, sign: int
) -> tuple[float, Verdict] | None:
    """The factor nearest 1 (going up for sign 1, down for -1) where the verdict changes."""
    inside = 1.0
    for step in STEPS:
        factor = step**sign
        seen = verdict(factor)
        if seen is None:
            return None
        if seen != now:
            return _bisect(verdict, now, inside, factor), seen
        inside = factor
    return None


def _bisect(
    verdict: Callable[[float], Verdict | None], now: Verdict | None, inside: float, out: float
) -> float:
    for _ in range(BISECTIONS):
        mid = math.sqrt(inside * out)
        if verdict(mid) == now:
            inside = mid
        else:
            out = mid
    return out


def _knob(claim: Claim, ctx: ClaimContext, knob: str) -> tuple[float, Scaled]:
    head, _, rest = knob.partition(".")
    if head == "params" and isinstance(claim.params.get(rest), int | float):
        value = float(claim.params[rest])
        return value, lambda f: (_with_param(claim, rest, value * f), ctx)
    econ = ctx.economics
    if head == "assumptions" and rest in econ.assumptions.__struct_fields__ and rest != "why":
        value = float(getattr(econ.assumptions, rest))
        return value, lambda f: (claim, _with(ctx, _assume(econ, rest, value * f)))
    row_id, _, field = rest.partition(".")
    if head == "regions" and row_id in econ.regions and field in ("usd_per_kwh", "pue"):
        value = float(getattr(econ.regions[row_id], field))
        return value, lambda f: (claim, _with(ctx, _region(econ, row_id, field, f)))
    if head == "gpus" and row_id in econ.gpus and field in GPU_FIELDS:
        value = float(getattr(econ.gpus[row_id], field))
        return value, lambda f: (claim, _with(ctx, _gpus(econ, row_id, field, value * f)))
    raise CostInputError(f"claims.{claim.id}.sensitivity", f"unknown knob {knob!r}")


def _with_param(claim: Claim, key: str, value: float) -> Claim:
    return msgspec.structs.replace(claim, params={**claim.params, key: value})


def _with(ctx: ClaimContext, econ: Economics) -> ClaimContext:
    return ClaimContext(economics=econ, list_prices=ctx.list_prices)


def _assume(econ: Economics, field: str, value: float) -> Economics:
    if field == "utilization" and not 0 < value <= 1:
        raise CostInputError(field, "out of range")
    if field == "host_overhead" and value < 1:
        raise CostInputError(field, "out of range")
    assumptions = msgspec.structs.replace(econ.assumptions, **{field: value})
    return Economics(econ.energy, econ.regions, econ.gpus, assumptions)


def _region(econ: Economics, row_id: str, field: str, factor: float) -> Economics:
    row = econ.regions[row_id]
    if field == "pue":
        if row.pue * factor < 1:
            raise CostInputError(field, "out of range")
        new = msgspec.structs.replace(row, pue=row.pue * factor)
    else:
        new = msgspec.structs.replace(
            row,
            usd_per_kwh=row.usd_per_kwh * factor,
            usd_per_kwh_low=row.usd_per_kwh_low * factor,
            usd_per_kwh_high=row.usd_per_kwh_high * factor,
        )
    regions = {**econ.regions, row_id: new}
    return Economics(econ.energy, regions, econ.gpus, econ.assumptions)


def _gpus(econ: Economics, row_id: str, field: str, value: float) -> Economics:
    gpus = {**econ.gpus, row_id: msgspec.structs.replace(econ.gpus[row_id], **{field: value})}
    return Economics(econ.energy, econ.regions, gpus, econ.assumptions)


def describe(flip: Flip) -> str:
    """One line: the knob, its value now, and where (if anywhere) the verdict changes."""
    if flip.flips_at is None:
        return f"{flip.knob} = {_num(flip.value)}: no flip within {flip.searched:g}x either way"
    return (
        f"{flip.knob} = {_num(flip.value)}: {flip.to} at {_num(flip.flips_at)}"
        f" ({flip.flips_at / flip.value:.3g}x)"
    )


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
