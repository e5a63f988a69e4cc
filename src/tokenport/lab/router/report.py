"""The sections of `router eval`'s report: RouteLLM's for pair files, RouterBench's for files
with costs, and the targets of issue 16. Every cost counts every call a router made.

Routers:
- `auto`: what the gateway ships: the cascade where the training file carried answers,
  else the prompt router (then `kind` says "prompt");
- `prompt_only`: the prompt router alone (the cascade's first step), a baseline;
- `tfidf_ridge`, `random`: the earlier baselines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router import cascade_eval, metrics
from tokenport.lab.router.cascade_eval import CascadeRun
from tokenport.lab.router.data import RoutingDataset
from tokenport.routing.auto.verify import VERIFIERS

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
# Issue 16's targets on unseen prompts.
APGR_TARGET = {"gsm8k": 0.80, "mt_bench": 0.80, "mmlu": 0.70}
APGR_DEFAULT = 0.80
CPT50_TARGET = {"gsm8k": 15.0}
MATCH_COST_SHARE = {"routerbench_mbpp": 0.70}
MATCH_DEFAULT = 0.50


@dataclass(frozen=True)
class Predicted:
    quality: FloatArray  # (n, n_models) predicted quality
    cost: FloatArray  # (n, n_models) expected cost, NaN without a cost model


@dataclass(frozen=True)
class Scored:
    """Every router's view of the scored prompts."""

    preds: dict[str, Predicted]  # prompt routers, by name
    runs: list[CascadeRun]  # the cascade, one run per trained router (fold); [] for none


def pair_cost_curve(
    score: FloatArray, c_weak: FloatArray, c_strong: FloatArray, skip_at: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """(strong %, total cost) at RouteLLM's thresholds, sorted like `metrics.routellm_curve`.
    `skip_at`: a cascade's skip scores (the cheap call is made unless skipped); None: a
    prompt router, which calls the weak model only where it does not call the strong one."""
    edges = np.quantile(score, np.linspace(0.0, 1.0, 11))
    pct, cost = [], []
    for i, t in enumerate(edges):
        pick = score >= t if i != len(edges) - 1 else score > t
        skipped = (
            None if skip_at is None else (skip_at >= t if i != len(edges) - 1 else skip_at > t)
        )
        weak_calls = ~pick if skipped is None else ~skipped
        pct.append(100.0 * pick.mean())
        cost.append(float((c_strong * pick).sum() + (c_weak * weak_calls).sum()))
    order = np.argsort(pct, kind="stable")
    return np.asarray(pct)[order], np.asarray(cost)[order]


def _pair_router(
    score: FloatArray,
    weak: FloatArray,
    strong: FloatArray,
    costs: FloatArray | None,
    cols: tuple[int, int],
    skip_at: FloatArray | None,
) -> dict[str, Any]:
    curve = metrics.routellm_curve(score, weak, strong)
    cpt = {f"{int(p * 100)}%": metrics.cpt(curve, p) for p in metrics.PCT_LEVELS}
    out: dict[str, Any] = {
        "apgr": metrics.apgr(curve),
        "auc": metrics.auc(curve),
        "cpt": cpt,
        "cpt_first": {f"{int(p * 100)}%": metrics.cpt_first(curve, p) for p in metrics.PCT_LEVELS},
        "curve": [[float(x), float(y)] for x, y in zip(curve.strong_pct, curve.score, strict=True)],
    }
    if costs is not None:
        w, s = cols
        pct, total = pair_cost_curve(score, costs[:, w], costs[:, s], skip_at)
        always = float(costs[:, s].sum())
        out["total_cost_share_at_cpt50"] = float(np.interp(cpt["50%"], pct, total)) / always
        out["cost_curve"] = [[float(x), float(c / always)] for x, c in zip(pct, total, strict=True)]
    return out


def cascade_summary(
    runs: Sequence[CascadeRun], data: RoutingDataset, costs: FloatArray | None
) -> dict[str, Any]:
    """What the cascade does at each trained router's own default threshold."""
    n = sum(len(r.rows) for r in runs)
    value = cost = always = escalated = skipped = 0.0
    for r in runs:
        v, c, esc = r.outcome(r.meta.threshold, data.scores, costs)
        value, cost = value + v.sum(), cost + c.sum()
        escalated, skipped = escalated + esc.sum(), skipped + (r.skip_at > r.meta.threshold).sum()
        if costs is not None:
            always += float(costs[r.rows, r.strong].sum())
    meta = runs[0].meta
    out: dict[str, Any] = {
        "chain": meta.chain,
        "strong": meta.strong,
        "verifiers": meta.verifiers,
        "replayed": "logprobs and self_check need live upstreams; not replayed here",
        "verifier_costs": {v: VERIFIERS[v].cost for v in meta.verifiers},
        "chains_per_fold": [r.meta.chain for r in runs],
        "default": {
            "operating_point": "pgr80",
            "score": value / n,
            "strong_share": escalated / n,
            "skipped_share": skipped / n,
        },
    }
    if costs is not None:
        out["default"]["total_cost_share"] = cost / always
    return out


def pair_report(data: RoutingDataset, scored: Scored, costs: FloatArray | None) -> dict[str, Any]:
    w, s = data.pair_columns()
    weak, strong = data.scores[:, w], data.scores[:, s]
    routers: dict[str, Any] = {}
    if scored.runs:
        score, skip_at = cascade_eval.pair_scores(scored.runs, len(data))
        routers["auto"] = {
            "kind": "cascade",
            **_pair_router(score, weak, strong, costs, (w, s), skip_at),
            "cascade": cascade_summary(scored.runs, data, costs),
        }
    for name, pred in scored.preds.items():
        score = pred.quality[:, s] - pred.quality[:, w]
        routers[name] = _pair_router(score, weak, strong, costs, (w, s), None)
    if "auto" not in routers:
        routers = {"auto": {"kind": "prompt", **routers["prompt_only"]}, **routers}
    return {
        "kind": "routellm",
        "weak": {"model": data.weak, "score": float(weak.mean())},
        "strong": {"model": data.strong, "score": float(strong.mean())},
        "cost_model": None if costs is None else cost_model(data),
        "optimal": {
            f"{p}%": metrics.optimal_pair_score(weak, strong, p / 100) for p in range(0, 101, 10)
        },
        "routers": routers,
    }


def cost_model(data: RoutingDataset) -> str:
    if data.has_costs and np.isfinite(data.costs).all():
        return "recorded cost_usd per call"
    return (
        "list prices x (prompt + recorded answer) length at 4 characters a token "
        "(routing.auto.costs.PAIR_PRICES); every cheap call and every strong call counted"
    )


def lambda_grid(cost: FloatArray) -> FloatArray:
    """Trade-offs from 'quality only' to 'cheapest only', relative to the dearest model."""
    ref = float(np.nanmax(np.nanmean(cost, axis=0)))
    return np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 141) / ref])


def sweep(quality: FloatArray, cost: FloatArray, data: RoutingDataset) -> FloatArray:
    """(mean realized cost, mean score) of a prompt router at each trade-off."""
    rows = np.arange(len(data))
    points = []
    for lam in lambda_grid(cost):
        pick = np.argmax(quality - lam * cost, axis=1)
        points.append((data.costs[rows, pick].mean(), data.scores[rows, pick].mean()))
    return np.array(points)


def cost_report(data: RoutingDataset, scored: Scored) -> dict[str, Any]:
    single = {
        m: {"quality": float(data.scores[:, j].mean()), "cost": float(data.costs[:, j].mean())}
        for j, m in enumerate(data.models)
    }
    best = max(single, key=lambda m: (single[m]["quality"], -single[m]["cost"]))
    curves: dict[str, FloatArray] = {}
    if scored.runs:
        curves["auto"] = cascade_eval.sweep(scored.runs, data, data.costs)[:, :2]
    for name, p in scored.preds.items():
        curves[name] = sweep(p.quality, p.cost, data)
    if "auto" not in curves:
        curves = {"auto": curves["prompt_only"], **curves}
    curves["oracle"] = sweep(data.scores, data.costs, data)
    hulls = {name: metrics.nondecreasing_hull(c) for name, c in curves.items()}
    names = list(hulls)
    single_pts = np.array([[v["cost"], v["quality"]] for v in single.values()])
    aiqs = metrics.aiq([hulls[n] for n in names] + [metrics.nondecreasing_hull(single_pts)])
    best_q, best_c = single[best]["quality"], single[best]["cost"]
    routers: dict[str, Any] = {}
    for name, a in zip(names, aiqs, strict=False):
        match = metrics.cost_to_match(curves[name], best_q)
        within = curves[name][curves[name][:, 0] <= MATCH_DEFAULT * best_c + 1e-15]
        routers[name] = {
            "aiq": a,
            "max_quality": float(curves[name][:, 1].max()),
            "cost_to_match_best": match,
            "match_cost_share": None if match is None else match / best_c,
            "quality_at_half_cost": float(within[:, 1].max()) if len(within) else None,
            "hull": hulls[name].tolist(),
        }
    routers["auto"]["kind"] = "cascade" if scored.runs else "prompt"
    routers["auto"]["curve"] = curves["auto"].tolist()
    if scored.runs:
        routers["auto"]["cascade"] = cascade_summary(scored.runs, data, data.costs)
    return {
        "kind": "routerbench",
        "single_models": single,
        "best_single": {"model": best, **single[best]},
        "single_models_hull_aiq": aiqs[-1],
        "routers": routers,
    }


def targets(name: str, report: dict[str, Any]) -> dict[str, Any]:
    auto = report.get("routers", {}).get("auto", {})
    if report.get("kind") == "routellm":
        bar = APGR_TARGET.get(name, APGR_DEFAULT)
        out = {f"apgr>={bar}": auto.get("apgr", 0.0) >= bar}
        if name in CPT50_TARGET:
            cap = CPT50_TARGET[name]
            out[f"cpt50<={cap:g}%"] = auto.get("cpt", {}).get("50%", 100.0) <= cap
        return out
    cap = MATCH_COST_SHARE.get(name, MATCH_DEFAULT)
    share = auto.get("match_cost_share")
    return {f"match_best_at<={cap:.0%}_cost": share is not None and share <= cap}
