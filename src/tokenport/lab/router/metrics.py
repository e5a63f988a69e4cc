"""Router metrics, as the two benchmarks' own code computes them.

RouteLLM (lm-sys/RouteLLM, routellm/evals/benchmarks.py and evaluate.py), two models:
- The router gives each prompt a score s (here: predicted strong quality - weak quality).
  Thresholds are the 11 edges of `pd.qcut(s, 10)`: quantiles of s at 0, 0.1, ..., 1
  (linear interpolation). For edge t_i the strong model serves prompts with s >= t_i, and
  for the last edge s > t_i, so the curve runs from 100 % to 0 % strong calls.
  Each edge gives a point (strong %, mean score of the routed answers).
- PGR(point) = (score - weak) / (strong - weak), weak and strong being the two models'
  mean scores on the same prompts.
- AUC = trapezoid(score, strong % / 100) over the points sorted by strong %.
  APGR = (AUC - weak_auc) / (strong_auc - weak_auc), where weak_auc and strong_auc are
  the trapezoids of the constant weak and strong scores over the same x: the area under
  the PGR curve.
- CPT(x %) = np.interp(weak + x * (strong - weak), scores, strong %), over the points
  sorted by strong %: the strong-call share at which the curve reaches PGR x.
  RouteLLM interpolates as if the scores rose monotonically; where they do not, this
  value is RouteLLM's, and `cpt_first` gives the least strong % at which the piecewise
  linear curve first reaches PGR x, for comparison.

RouterBench (withmartian/routerbench, evaluation/AIQ.py), many models with costs:
- A router sweeps its willingness to pay and gives points (cost, quality).
- Its non-decreasing convex hull: sort by cost; each interior point is raised to the upper
  hull through the points around it (max of its own quality and every chord over it);
  the cheapest point is kept as it is; the dearest is kept when it is at least the hull's
  last interior value; then points below their predecessor are dropped.
- AIQ = trapezoid(hull, cost) / max_cost after extending each hull flat to max_cost,
  the largest cost among all routers compared together, so AIQs share one x range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
PCT_LEVELS = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class PairCurve:
    """RouteLLM's curve: strong-call % and mean score per threshold, sorted by strong %."""

    strong_pct: FloatArray
    score: FloatArray
    weak: float
    strong: float


def routellm_curve(
    router_score: FloatArray, weak: FloatArray, strong: FloatArray, num_results: int = 10
) -> PairCurve:
    edges = np.quantile(router_score, np.linspace(0.0, 1.0, num_results + 1))
    pct, val = [], []
    for i, t in enumerate(edges):
        pick = router_score >= t if i != len(edges) - 1 else router_score > t
        pct.append(100.0 * pick.mean())
        val.append(float(np.where(pick, strong, weak).mean()))
    order = np.argsort(pct, kind="stable")
    return PairCurve(
        strong_pct=np.asarray(pct)[order],
        score=np.asarray(val)[order],
        weak=float(weak.mean()),
        strong=float(strong.mean()),
    )


def auc(curve: PairCurve) -> float:
    return float(np.trapezoid(curve.score, curve.strong_pct / 100.0))


def apgr(curve: PairCurve) -> float:
    x = curve.strong_pct / 100.0
    weak_auc = float(np.trapezoid(np.full_like(x, curve.weak), x))
    strong_auc = float(np.trapezoid(np.full_like(x, curve.strong), x))
    return (auc(curve) - weak_auc) / (strong_auc - weak_auc)


def cpt(curve: PairCurve, level: float) -> float:
    """RouteLLM's call-performance threshold, in % strong calls."""
    target = level * (curve.strong - curve.weak) + curve.weak
    return float(np.interp(target, curve.score, curve.strong_pct))


def cpt_first(curve: PairCurve, level: float) -> float | None:
    """Least strong % where the linear curve first reaches PGR >= level; None if never."""
    target = level * (curve.strong - curve.weak) + curve.weak
    x, y = curve.strong_pct, curve.score
    if y[0] >= target:
        return float(x[0])
    for i in range(1, len(x)):
        if y[i] >= target:
            frac = (target - y[i - 1]) / (y[i] - y[i - 1])
            return float(x[i - 1] + frac * (x[i] - x[i - 1]))
    return None


def optimal_pair_score(weak: FloatArray, strong: FloatArray, strong_share: float) -> float:
    """RouteLLM's 'Optimal' curve: spend strong calls on the prompts it gains most on."""
    gain = np.sort(strong - weak)[::-1]
    budget = int(len(gain) * strong_share)
    used = gain[:budget]
    return float((weak.sum() + used[used > 0].sum()) / len(weak))


def nondecreasing_hull(points: FloatArray) -> FloatArray:
    """RouterBench's non-decreasing convex hull of (cost, quality) points; see module doc."""
    pts = points[np.argsort(points[:, 0], kind="stable")]
    if len(pts) < 3:
        return _drop_falls(_unique_x(pts))
    x, y = pts[:, 0], pts[:, 1]
    raised: dict[float, float] = {}
    for k in range(1, len(pts) - 1):
        left, right = x < x[k], x > x[k]
        if not (left.any() and right.any()):
            continue
        li, ri = np.flatnonzero(left), np.flatnonzero(right)
        xl, yl = x[li][:, None], y[li][:, None]
        xr, yr = x[ri][None, :], y[ri][None, :]
        chord = yl + (yr - yl) * (x[k] - xl) / (xr - xl)
        value = max(float(y[k]), float(chord.max()))
        raised[float(x[k])] = max(raised.get(float(x[k]), -np.inf), value)
    hull = sorted(raised.items())
    if (not hull or float(y[-1]) >= hull[-1][1]) and float(x[-1]) not in raised:
        hull.append((float(x[-1]), float(y[-1])))
    if float(x[0]) not in raised:
        hull.insert(0, (float(x[0]), float(y[0])))
    return _drop_falls(np.array(hull, dtype=np.float64))


def _unique_x(pts: FloatArray) -> FloatArray:
    out: dict[float, float] = {}
    for cx, cy in pts:
        out[float(cx)] = max(out.get(float(cx), -np.inf), float(cy))
    return np.array(sorted(out.items()), dtype=np.float64).reshape(-1, 2)


def _drop_falls(hull: FloatArray) -> FloatArray:
    """Drop each point lower than the one before it (compared before any is dropped)."""
    if len(hull) < 2:
        return hull
    keep = np.ones(len(hull), bool)
    keep[1:] = hull[1:, 1] >= hull[:-1, 1]
    return hull[keep]


def aiq(hulls: Sequence[FloatArray]) -> list[float]:
    """AIQ of each hull, all extended flat to the largest cost among them."""
    max_x = max(float(h[:, 0].max()) for h in hulls)
    out = []
    for h in hulls:
        ext = np.vstack([h, [max_x, h[-1, 1]]])
        out.append(float(np.trapezoid(ext[:, 1], ext[:, 0])) / max_x)
    return out


def cost_to_match(points: FloatArray, target_quality: float) -> float | None:
    """Least cost among a router's points whose quality reaches `target_quality`."""
    ok = points[points[:, 1] >= target_quality - 1e-12]
    return float(ok[:, 0].min()) if len(ok) else None
