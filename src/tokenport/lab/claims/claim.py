"""Test the press claims in `data/claims.toml` against the cost model and the measured data.

A claim is data: a claimed range (or a one-sided bound), a unit, a source, a `kind`, the
parameters of its check and the knobs whose flip points the report computes. A checker (one
per kind, in `checks.py`, `checks_power.py` and `checks_market.py`; `checks.py` runs them)
turns the economics into a data range plus the arithmetic behind it; `judge` then compares
the two ranges. No verdict is stored anywhere: change a claimed number, a region price or an
assumption and the verdict follows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import Table, data_toml, positive, require, table, text
from tokenport.economics.settings import Economics
from tokenport.lab.claims.prices import PACKAGE, ListPrice

Verdict = Literal["consistent", "overstated", "understated"]
Bound = Literal["range", "at_least", "at_most"]
BOUNDS: tuple[Bound, ...] = ("range", "at_least", "at_most")
CLAIM_FIELDS = ("claimed_low", "claimed_high", "tolerance", "title", "unit", "params")


class Claim(msgspec.Struct, frozen=True):
    id: str
    kind: str
    title: str
    claimed_low: float
    claimed_high: float
    unit: str
    tolerance: float
    source: str
    params: dict[str, Any]
    # "at_least": the claim is "more than claimed_low" (claimed_high is ignored); "at_most":
    # "less than claimed_high". A range claim is both ends.
    bound: Bound = "range"
    # knobs whose flip point the report computes (sensitivity.py), e.g. "params.capex_usd"
    sensitivity: list[str] = msgspec.field(default_factory=list)


class Evidence(msgspec.Struct, frozen=True):
    """What a checker found: the data range in the claim's unit and how it got there."""

    data_low: float
    data_high: float
    arithmetic: list[str]
    sources: list[str]
    independent: bool = True  # False when the data rest on an estimate or on the articles


class Flip(msgspec.Struct, frozen=True):
    """Where one input would have to move for the verdict to change; `flips_at` is None when
    it does not change within `searched` (a factor either way)."""

    knob: str
    value: float
    flips_at: float | None
    to: str | None
    searched: float


class ClaimResult(msgspec.Struct, frozen=True):
    """`factor` is claimed/data at the ranges' geometric midpoints; `gap` is how far apart the
    nearest ends are (1 when the ranges overlap); the verdict compares `gap` to `tolerance`."""

    id: str
    title: str
    unit: str
    source: str
    claimed_low: float
    claimed_high: float
    data_low: float
    data_high: float
    factor: float
    gap: float
    tolerance: float
    verdict: Verdict
    independent: bool
    arithmetic: list[str]
    sources: list[str]
    bound: Bound = "range"
    sensitivity: list[Flip] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class ClaimContext:
    """What every checker may read: the economics under test and the list prices."""

    economics: Economics
    list_prices: list[ListPrice]


Checker = Callable[[Claim, ClaimContext], Evidence]


def judge(
    claimed: tuple[float, float],
    data: tuple[float, float],
    tolerance: float,
    bound: Bound = "range",
) -> tuple[Verdict, float, float]:
    """(verdict, factor, gap). Ranges within `tolerance` times of each other are consistent.
    A one-sided claim is a range open at one end: "more than 50" is [50, inf)."""
    (cl, ch), (dl, dh) = sorted(claimed), sorted(data)
    if bound == "at_least":
        ch = max(ch, dh, cl)
    elif bound == "at_most":
        cl = min(cl, dl, ch)
    factor = math.sqrt(cl * ch) / math.sqrt(dl * dh)
    if cl > dh:
        return ("consistent" if cl / dh <= tolerance else "overstated"), factor, cl / dh
    if ch < dl:
        return ("consistent" if dl / ch <= tolerance else "understated"), factor, dl / ch
    return "consistent", factor, 1.0


def load_claims(overrides: Table | None = None) -> list[Claim]:
    """Claims from `data/claims.toml`; `overrides` is `{claim_id: {field: value}}`."""
    rows = data_toml("claims.toml", PACKAGE).get("claims", [])
    over = table("claims", overrides or {})
    ids = [str(r.get("id")) for r in rows]
    for key in over:
        if key not in ids:
            raise CostInputError(f"claims.{key}", "unknown claim", ids)
    return [
        _claim(dict(row), table(f"claims.{row['id']}", over.get(row["id"], {}))) for row in rows
    ]


def _claim(row: dict[str, Any], over: Mapping[str, Any]) -> Claim:
    field = f"claims.{row.get('id')}"
    for key, value in over.items():
        if key not in CLAIM_FIELDS:
            raise CostInputError(f"{field}.{key}", "not overridable", CLAIM_FIELDS)
        if key == "params":
            value = {**row.get("params", {}), **table(f"{field}.params", value)}
        row[key] = value
    low = positive(f"{field}.claimed_low", require(field, row, "claimed_low"))
    high = positive(f"{field}.claimed_high", require(field, row, "claimed_high"))
    if high < low:
        raise CostInputError(f"{field}.claimed_high", f"{high:g} is below claimed_low {low:g}")
    bound = row.get("bound", "range")
    if bound not in BOUNDS:
        raise CostInputError(f"{field}.bound", f"unknown bound {bound!r}", BOUNDS)
    return Claim(
        id=text(f"{field}.id", row.get("id")),
        kind=text(f"{field}.kind", require(field, row, "kind")),
        title=text(f"{field}.title", require(field, row, "title")),
        claimed_low=low,
        claimed_high=high,
        unit=text(f"{field}.unit", require(field, row, "unit")),
        tolerance=positive(f"{field}.tolerance", require(field, row, "tolerance")),
        source=text(f"{field}.source", require(field, row, "source")),
        params=dict(table(f"{field}.params", row.get("params", {}))),
        bound=bound,
        sensitivity=[str(k) for k in row.get("sensitivity", [])],
    )


def source_notes() -> dict[str, str]:
    """The `[sources]` table of claims.toml, whitespace folded."""
    notes = table("sources", data_toml("claims.toml", PACKAGE).get("sources", {}))
    return {key: " ".join(str(value).split()) for key, value in notes.items()}


def verdict_of(claim: Claim, ev: Evidence) -> tuple[Verdict, float, float]:
    claimed = (claim.claimed_low, claim.claimed_high)
    return judge(claimed, (ev.data_low, ev.data_high), claim.tolerance, claim.bound)


def result(
    claim: Claim, ev: Evidence, sources: Mapping[str, str], flips: list[Flip] | None = None
) -> ClaimResult:
    verdict, factor, gap = verdict_of(claim, ev)
    return ClaimResult(
        id=claim.id,
        title=claim.title,
        unit=claim.unit,
        source=sources.get(claim.source, claim.source),
        claimed_low=claim.claimed_low,
        claimed_high=claim.claimed_high,
        data_low=ev.data_low,
        data_high=ev.data_high,
        factor=factor,
        gap=gap,
        tolerance=claim.tolerance,
        verdict=verdict,
        independent=ev.independent,
        arithmetic=ev.arithmetic,
        sources=ev.sources,
        bound=claim.bound,
        sensitivity=flips or [],
    )


def param(claim: Claim, key: str) -> float:
    """A positive number from the claim's `params`, named in the error if missing or bad."""
    field = f"claims.{claim.id}.params.{key}"
    if key not in claim.params:
        raise CostInputError(field, "missing")
    return positive(field, claim.params[key])


def word(claim: Claim, key: str) -> str:
    return text(f"claims.{claim.id}.params.{key}", claim.params.get(key))
