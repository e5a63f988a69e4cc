"""`tokenport router eval`: the auto router against a random router and a TF-IDF ridge.

Two modes. Holdout: train on one file, score on another the router never saw. Cross-
validation (the test file omitted or the same file): k seeded folds, the turns of one
conversation kept in one fold; every prompt is scored by the router trained without its
fold, and metrics are computed once over all of these out-of-fold predictions.
Hyperparameters are chosen inside each training part (see
`train.py`), never on the prompts being scored.

Two-model files (header `weak`/`strong`) get RouteLLM's metrics; files with `cost_usd`
get RouterBench's: see `metrics.py` for both. Decision latency is measured on the router
trained on the whole training file, calling `AutoRouter.decide` one prompt at a time.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto import baselines, metrics
from tokenport.routing.auto.data import RoutingDataset, align
from tokenport.routing.auto.decide import AutoRouter, Pool
from tokenport.routing.auto.train import TrainConfig, train_router

FloatArray = NDArray[np.float64]
ROUTERS = ("auto", "tfidf_ridge", "random")
# The targets on unseen prompts; mt_bench's APGR bar is higher.
APGR_TARGET = {"mt_bench": 0.80}
APGR_DEFAULT = 0.75
CPT50_TARGET = 20.0
MATCH_COST_SHARE = 0.5


@dataclass(frozen=True)
class Predicted:
    quality: FloatArray  # (n, n_models) predicted quality
    cost: FloatArray  # (n, n_models) expected cost, NaN without a cost model


def holdout_predictions(
    train: RoutingDataset, test: RoutingDataset, cfg: TrainConfig, seed: int
) -> dict[str, Predicted]:
    router = AutoRouter(train_router(train, cfg))
    rows = [router.predict(t) for t in test.texts]
    quality = np.array([q for q, _ in rows])
    cost = np.array([c for _, c in rows])
    out = {"auto": Predicted(quality, cost)}
    tfidf = baselines.tfidf_ridge_quality(train.texts, train.quality(), test.texts)
    out["tfidf_ridge"] = Predicted(tfidf, cost)
    out["random"] = Predicted(baselines.random_quality(len(test), len(test.models), seed), cost)
    return out


def fold_parts(data: RoutingDataset, folds: int, seed: int) -> list[NDArray[np.intp]]:
    """Row indices of each seeded fold; a conversation's turns stay in one fold."""
    groups = np.array(data.groups or data.ids)
    names = np.unique(groups)
    shuffled = np.array_split(np.random.default_rng(seed).permutation(len(names)), folds)
    return [np.flatnonzero(np.isin(groups, names[s])) for s in shuffled]


def cv_predictions(
    data: RoutingDataset, folds: int, cfg: TrainConfig, seed: int
) -> dict[str, Predicted]:
    parts = fold_parts(data, folds, seed)
    merged: dict[str, Predicted] = {}
    for k, held in enumerate(parts):
        kept = np.sort(np.concatenate([p for j, p in enumerate(parts) if j != k]))
        got = holdout_predictions(data.subset(kept), data.subset(np.sort(held)), cfg, seed + k)
        for name, pred in got.items():
            if name not in merged:
                shape = (len(data), len(data.models))
                merged[name] = Predicted(np.full(shape, np.nan), np.full(shape, np.nan))
            merged[name].quality[np.sort(held)] = pred.quality
            merged[name].cost[np.sort(held)] = pred.cost
    return merged


def pair_report(data: RoutingDataset, preds: dict[str, Predicted]) -> dict[str, Any]:
    w, s = data.pair_columns()
    weak, strong = data.scores[:, w], data.scores[:, s]
    routers: dict[str, Any] = {}
    for name, pred in preds.items():
        curve = metrics.routellm_curve(pred.quality[:, s] - pred.quality[:, w], weak, strong)
        routers[name] = {
            "apgr": metrics.apgr(curve),
            "auc": metrics.auc(curve),
            "cpt": {f"{int(p * 100)}%": metrics.cpt(curve, p) for p in metrics.PCT_LEVELS},
            "cpt_first": {
                f"{int(p * 100)}%": metrics.cpt_first(curve, p) for p in metrics.PCT_LEVELS
            },
            "curve": [
                [float(x), float(y)] for x, y in zip(curve.strong_pct, curve.score, strict=True)
            ],
        }
    return {
        "kind": "routellm",
        "weak": {"model": data.weak, "score": float(weak.mean())},
        "strong": {"model": data.strong, "score": float(strong.mean())},
        "optimal": {
            f"{p}%": metrics.optimal_pair_score(weak, strong, p / 100) for p in range(0, 101, 10)
        },
        "routers": routers,
    }


def lambda_grid(cost: FloatArray) -> FloatArray:
    """Trade-offs from 'quality only' to 'cheapest only', relative to the dearest model."""
    ref = float(np.nanmax(np.nanmean(cost, axis=0)))
    return np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 141) / ref])


def sweep(quality: FloatArray, cost: FloatArray, data: RoutingDataset) -> FloatArray:
    """(mean realized cost, mean score) of the router at each trade-off."""
    rows = np.arange(len(data))
    points = []
    for lam in lambda_grid(cost):
        pick = np.argmax(quality - lam * cost, axis=1)
        points.append((data.costs[rows, pick].mean(), data.scores[rows, pick].mean()))
    return np.array(points)


def cost_report(data: RoutingDataset, preds: dict[str, Predicted]) -> dict[str, Any]:
    single = {
        m: {"quality": float(data.scores[:, j].mean()), "cost": float(data.costs[:, j].mean())}
        for j, m in enumerate(data.models)
    }
    best = max(single, key=lambda m: (single[m]["quality"], -single[m]["cost"]))
    curves = {name: sweep(p.quality, p.cost, data) for name, p in preds.items()}
    curves["oracle"] = sweep(data.scores, data.costs, data)
    hulls = {name: metrics.nondecreasing_hull(c) for name, c in curves.items()}
    names = list(hulls)
    single_pts = np.array([[v["cost"], v["quality"]] for v in single.values()])
    aiqs = metrics.aiq([hulls[n] for n in names] + [metrics.nondecreasing_hull(single_pts)])
    routers: dict[str, Any] = {}
    for name, a in zip(names, aiqs, strict=False):
        match = metrics.cost_to_match(curves[name], single[best]["quality"])
        share = None if match is None else match / single[best]["cost"]
        routers[name] = {
            "aiq": a,
            "max_quality": float(curves[name][:, 1].max()),
            "cost_to_match_best": match,
            "match_cost_share": share,
            "hull": hulls[name].tolist(),
        }
    return {
        "kind": "routerbench",
        "single_models": single,
        "best_single": {"model": best, **single[best]},
        "single_models_hull_aiq": aiqs[-1],
        "routers": routers,
    }


def measure_latency(router: AutoRouter, texts: list[str], n: int = 1000) -> dict[str, float]:
    prices = {
        m: 1.0 for m, c in zip(router.models, router.artifact.cost_base, strict=True) if np.isnan(c)
    }
    pool = Pool(name="eval", prices=prices)
    sample = [texts[i % len(texts)] for i in range(n)]
    for t in sample[:50]:
        router.decide(t, pool)
    gc.collect()
    wall, cpu = [], []
    for t in sample:
        w0, c0 = time.perf_counter(), time.thread_time()
        router.decide(t, pool)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    # Wall time is what a request sees; thread CPU time leaves out preemption by other
    # processes, which on a shared 2-core machine dominates the wall-clock tail.
    ms, cpu_ms = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
    }


def targets(name: str, report: dict[str, Any]) -> dict[str, Any]:
    auto = report.get("routers", {}).get("auto", {})
    if report.get("kind") == "routellm":
        bar = APGR_TARGET.get(name, APGR_DEFAULT)
        return {
            f"apgr>={bar}": auto.get("apgr", 0.0) >= bar,
            f"cpt50<={CPT50_TARGET}%": auto.get("cpt", {}).get("50%", 100.0) <= CPT50_TARGET,
        }
    share = auto.get("match_cost_share")
    return {"match_best_at<=50%_cost": share is not None and share <= MATCH_COST_SHARE}


def evaluate(
    train: RoutingDataset,
    test: RoutingDataset | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    cfg: TrainConfig | None = None,
    plot_dir: Path | None = None,
) -> dict[str, Any]:
    cfg = cfg or TrainConfig(seed=seed)
    test = None if test is None else align(test, train.models)
    scored = test if test is not None else train
    if test is None:
        mode = f"{folds}-fold cross-validation on the training file"
        preds = cv_predictions(train, folds, cfg, seed)
    else:
        mode = "holdout: trained on --train, scored on --test"
        preds = holdout_predictions(train, test, cfg, seed)
    out: dict[str, Any] = {"dataset": scored.name, "mode": mode, "n_train": len(train)}
    out["n_scored"] = len(scored)
    sections = []
    if scored.is_pair:
        sections.append(pair_report(scored, preds))
    if scored.has_costs:
        sections.append(cost_report(scored, preds))
    for section in sections:
        section["targets"] = targets(scored.name, section)
        out[section["kind"]] = section
    router = AutoRouter(train_router(train, cfg))
    out["latency"] = measure_latency(router, list(scored.texts))
    out["router"] = {
        "alpha": router.artifact.meta.alpha,
        "n_features": router.vectorizer.n_features,
    }
    if plot_dir is not None:
        from tokenport.routing.auto.plots import save_plots

        out["plots"] = [str(p) for p in save_plots(out, plot_dir)]
    finite: dict[str, Any] = _finite(out)
    return finite


def _finite(value: Any) -> Any:
    """JSON has no NaN: map non-finite floats to null, recursively."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
