"""Checkers for the market claims: capability and cost gaps per model pair, OpenRouter share
and weekly peak.

Capability and cost come from a dated benchmark snapshot (`data/benchmarks_2024_03.toml`);
the market figures from the articles themselves (`data/market_2026_02.toml`), so those
verdicts check the two articles against each other and are marked not independent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import data_toml, fraction, positive, table, text
from tokenport.lab.claims.claim import Checker, Claim, ClaimContext, Evidence, param, word
from tokenport.lab.claims.prices import PACKAGE

BENCHMARKS = "benchmarks_2024_03.toml"
MARKET = "market_2026_02.toml"


class Score(NamedTuple):
    accuracy: float
    usd_per_call: float


class Pair(msgspec.Struct, frozen=True):
    """A cheap model against a premium one: score ratio and cost ratio over the benchmarks."""

    cheap: str
    premium: str
    ratio: float  # cheap's weighted mean accuracy / premium's
    cost_gap: float  # premium's weighted mean cost per call / cheap's
    per_dataset: list[tuple[str, float, float]]  # (dataset, score ratio, cost gap)


def load_scores() -> dict[tuple[str, str], Score]:
    """(model, dataset) -> accuracy and mean cost per call, from the shipped snapshot."""
    out = {}
    for i, row in enumerate(data_toml(BENCHMARKS, PACKAGE).get("results", [])):
        row = table(f"results[{i}]", row)
        key = (text(f"results[{i}].model", row.get("model")), str(row.get("dataset")))
        out[key] = Score(
            fraction(f"results[{i}].accuracy", row.get("accuracy")),
            positive(f"results[{i}].usd_per_call", row.get("usd_per_call")),
        )
    return out


def benchmark_source() -> str:
    src = table("source", data_toml(BENCHMARKS, PACKAGE)["source"])
    return f"{src['name']}; {src['publisher']}; {src['dated']}"


def pairs(claim: Claim) -> list[Pair]:
    scores = load_scores()
    weights = {
        k.removeprefix("weight_"): param(claim, k) for k in claim.params if k.startswith("weight_")
    }
    if not weights:
        raise CostInputError(f"claims.{claim.id}.params", "needs weight_<dataset> entries")
    out = []
    for i, pair in enumerate(claim.params.get("pairs", [])):
        cheap, premium = (str(m) for m in pair)
        out.append(_pair(claim, i, cheap, premium, scores, weights))
    if not out:
        raise CostInputError(f"claims.{claim.id}.params.pairs", "needs at least one pair")
    return out


def _pair(
    claim: Claim,
    i: int,
    cheap: str,
    premium: str,
    scores: dict[tuple[str, str], Score],
    weights: dict[str, float],
) -> Pair:
    rows = []
    for dataset in weights:
        if (cheap, dataset) not in scores or (premium, dataset) not in scores:
            raise CostInputError(f"claims.{claim.id}.params.pairs[{i}]", f"no {dataset} score")
        rows.append((dataset, scores[cheap, dataset], scores[premium, dataset]))
    total = sum(weights.values())

    def mean(values: list[float]) -> float:
        return sum(v * weights[d] for v, (d, _, _) in zip(values, rows, strict=True)) / total

    ratio = mean([c.accuracy for _, c, _ in rows]) / mean([p.accuracy for _, _, p in rows])
    gap = mean([p.usd_per_call for _, _, p in rows]) / mean([c.usd_per_call for _, c, _ in rows])
    per = [(d, c.accuracy / p.accuracy, p.usd_per_call / c.usd_per_call) for d, c, p in rows]
    return Pair(cheap, premium, ratio, gap, per)


def capability_cost(claim: Claim, ctx: ClaimContext) -> Evidence:
    """One side of "capability gap < 20 % while cost gap > 10x": `measure` picks which."""
    measure = word(claim, "measure")
    if measure not in ("capability", "cost"):
        raise CostInputError(f"claims.{claim.id}.params.measure", "unknown", ["capability", "cost"])
    found = pairs(claim)
    values = [p.ratio if measure == "capability" else p.cost_gap for p in found]
    floor, least = param(claim, "capability_floor"), param(claim, "cost_floor")
    both = [p for p in found if p.ratio >= floor and p.cost_gap >= least]
    lines = [
        f"{p.cheap} vs {p.premium}: score ratio {p.ratio:.3f} (gap {1 - p.ratio:.1%}),"
        f" cost gap {p.cost_gap:.1f}x; "
        + ", ".join(f"{d} {r:.3f} / {g:.1f}x" for d, r, g in p.per_dataset)
        for p in found
    ]
    weights = ", ".join(f"{k.removeprefix('weight_')} {v:g}" for k, v in claim.params.items()
                        if k.startswith("weight_"))  # fmt: skip
    return Evidence(
        data_low=min(values),
        data_high=max(values),
        arithmetic=[
            f"Per pair, benchmark weights {weights}: score ratio = weighted mean accuracy"
            " (cheap / premium); cost gap = weighted mean cost per call (premium / cheap).",
            *lines,
            f"Both at once (ratio >= {floor:g} and cost gap >= {least:g}x):"
            f" {len(both)} of {len(found)} pairs"
            + (f" ({', '.join(p.cheap for p in both)})." if both else "."),
            "The snapshot is 2024's models; the 2026 models the articles name have no shipped"
            " scores, so this tests the thesis on the last pairs with public per-prompt data.",
        ],
        sources=[benchmark_source()],
    )


class Market(NamedTuple):
    one: dict[str, Any]
    two: dict[str, Any]
    source: str


def load_market() -> Market:
    raw = data_toml(MARKET, PACKAGE)
    src = table("source", raw["source"])
    return Market(
        dict(table("article_one", raw["article_one"])),
        dict(table("article_two", raw["article_two"])),
        f"{src['articles']} (data/{MARKET}, restated in {src['restated']})",
    )


def market_share(claim: Claim, ctx: ClaimContext) -> Evidence:
    """Article two's 61 % against article one's top-ten volumes for the same month."""
    m = load_market()
    top, cn = (
        positive("top_ten_t", m.one["top_ten_t"]),
        positive("chinese", m.one["chinese_top_ten_t"]),
    )
    share = cn / top
    models = sum(float(v) for v in table("models_t", m.one["models_t"]).values())
    growth, us_ratio = (
        positive("growth", m.two["growth_three_weeks"]),
        positive("us", m.two["us_growth_ratio"]),
    )
    peak = positive("weekly_peak_t", m.two["weekly_peak_t"])
    us_week = (top - cn) / 4
    us_growth = growth / us_ratio  # "about three times the US models' growth"
    us_last = _last_week(top - cn, 1 + us_growth)
    users_cn = fraction("users_china", m.two["users_china"])
    return Evidence(
        data_low=share,
        data_high=share,
        arithmetic=[
            f"Article one: {cn:g}T of the top ten's {top:g}T = {share:.1%} ('over half');"
            f" its four named models add up to {models:.2f}T.",
            f"Article two: {m.two['chinese_share']:.0%} of all token calls. The two disagree"
            f" for the month by {m.two['chinese_share'] / share:.2f}x.",
            f"A peak-week share fits 61 % better: Chinese peak {peak:g}T against the US top-ten"
            f" models' {us_last:.2f}T (growing {us_growth:+.0%} in three weeks) to"
            f" {us_week:.2f}T (flat) = {peak / (peak + us_last):.1%}-"
            f"{peak / (peak + us_week):.1%}.",
            f"Users: {m.two['users_us']:.2%} US, {users_cn:.2%} China. Even if every Chinese"
            f" user used only Chinese models, at the average user's volume, at least"
            f" {(share - users_cn) / share:.0%} of the Chinese models' tokens came from users"
            " outside China (no per-user data is shipped: shown, not judged).",
        ],
        sources=[m.source],
        independent=False,
    )


def market_peak(claim: Claim, ctx: ClaimContext) -> Evidence:
    """The weekly peak that article one's month and article two's growth imply."""
    m = load_market()
    month = positive("chinese_top_ten_t", m.one["chinese_top_ten_t"])
    growth = 1 + positive("growth_three_weeks", m.two["growth_three_weeks"])
    weekly: float = growth ** (1 / 3)
    geometric = 1 + sum(weekly**-k for k in (1, 2, 3))  # month / peak, steady weekly growth
    linear = 2 * (1 + 1 / growth)  # month / peak, four weeks evenly spaced
    peaks = (month / linear, month / geometric)
    return Evidence(
        data_low=min(peaks),
        data_high=max(peaks),
        arithmetic=[
            f"February 2026 is four weeks. +{growth - 1:.0%} over three weeks ends the month at"
            f" its peak week; week one = peak / {growth:g}.",
            f"Steady growth ({weekly - 1:+.1%} a week): month = peak x {geometric:.3f};"
            f" even steps: month = peak x {linear:.3f}.",
            f"Article one's {month:g}T of Chinese tokens in the month -> a peak of"
            f" {min(peaks):.2f}-{max(peaks):.2f}T a week, against article two's"
            f" {m.two['weekly_peak_t']:g}T.",
        ],
        sources=[m.source],
        independent=False,
    )


def _last_week(month: float, growth: float) -> float:
    """The fourth week of a month of four weeks growing steadily by `growth` over three."""
    weekly: float = growth ** (1 / 3)
    return month / (1 + sum(weekly**-k for k in (1, 2, 3)))


CHECKERS: dict[str, Checker] = {
    "capability_cost": capability_cost,
    "market_share": market_share,
    "market_peak": market_peak,
}
