"""`tokenport router eval`: the shipped `auto` router against its baselines, every call counted.

Two modes. Holdout: train on one file, score on another the router never saw. Cross-
validation (the test file omitted or the same file): k seeded folds, the turns of one
conversation kept in one fold; every prompt is scored by the router trained without its
fold, and metrics are computed once over all of these out-of-fold predictions.
Hyperparameters, the cascade's chain, trust models and thresholds are all chosen inside each
training part (`train.py`, `cascade_train.py`), never on the prompts being scored.

`auto` is what `tokenport router train` ships for the file: a cascade where the file carries
the models' answers (replayed by `cascade_eval.py`), else the prompt router. Two-model files
(header `weak`/`strong`) get RouteLLM's metrics plus the total cost of every call; files with
`cost_usd` get RouterBench's: see `report.py` and `metrics.py`. Decision latency is measured
on the router trained on the whole training file, one prompt at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router import baselines
from tokenport.lab.router.cascade_eval import replay
from tokenport.lab.router.costs import call_costs
from tokenport.lab.router.data import RoutingDataset, align
from tokenport.lab.router.folds import group_folds
from tokenport.lab.router.latency import measure_cascade, measure_latency
from tokenport.lab.router.report import (
    APGR_DEFAULT,
    APGR_TARGET,
    MATCH_DEFAULT,
    Predicted,
    Scored,
    cost_report,
    pair_report,
    targets,
)
from tokenport.lab.router.train import TrainConfig, train_router
from tokenport.routing.auto.decide import AutoRouter

FloatArray = NDArray[np.float64]
ROUTERS = ("auto", "prompt_only", "tfidf_ridge", "random")
MATCH_COST_SHARE = MATCH_DEFAULT
__all__ = [
    "APGR_DEFAULT",
    "APGR_TARGET",
    "MATCH_COST_SHARE",
    "Predicted",
    "cv_predictions",
    "evaluate",
    "fold_parts",
    "holdout_predictions",
]


def _prompt_preds(
    router: AutoRouter, train: RoutingDataset, test: RoutingDataset, seed: int
) -> dict[str, Predicted]:
    rows = [router.predict(t) for t in test.texts]
    quality = np.array([q for q, _ in rows])
    cost = np.array([c for _, c in rows])
    tfidf = baselines.tfidf_ridge_quality(train.texts, train.quality(), test.texts)
    return {
        "prompt_only": Predicted(quality, cost),
        "tfidf_ridge": Predicted(tfidf, cost),
        "random": Predicted(baselines.random_quality(len(test), len(test.models), seed), cost),
    }


def holdout_predictions(
    train: RoutingDataset, test: RoutingDataset, cfg: TrainConfig, seed: int
) -> dict[str, Predicted]:
    """The prompt routers only (`auto` is the prompt router here): for the router study."""
    router = AutoRouter(train_router(train, _prompt_only(cfg)))
    preds = _prompt_preds(router, train, test, seed)
    return {"auto": preds.pop("prompt_only"), **preds}


def fold_parts(data: RoutingDataset, folds: int, seed: int) -> list[NDArray[np.intp]]:
    """Row indices of each seeded fold; a conversation's turns stay in one fold."""
    return group_folds(data.groups or data.ids, folds, seed)


def cv_predictions(
    data: RoutingDataset, folds: int, cfg: TrainConfig, seed: int
) -> dict[str, Predicted]:
    """Out-of-fold prompt-router predictions (see `holdout_predictions`)."""
    return _merge_preds(
        data,
        [
            (held, holdout_predictions(data.subset(kept), data.subset(held), cfg, seed + k))
            for k, (kept, held) in enumerate(_splits(data, folds, seed))
        ],
    )


def _prompt_only(cfg: TrainConfig) -> TrainConfig:
    import msgspec

    return msgspec.structs.replace(cfg, cascade=False)


def _splits(
    data: RoutingDataset, folds: int, seed: int
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    parts = fold_parts(data, folds, seed)
    out = []
    for k, held in enumerate(parts):
        kept = np.sort(np.concatenate([p for j, p in enumerate(parts) if j != k]))
        out.append((kept, np.sort(held)))
    return out


def _merge_preds(
    data: RoutingDataset, parts: list[tuple[NDArray[np.intp], dict[str, Predicted]]]
) -> dict[str, Predicted]:
    merged: dict[str, Predicted] = {}
    shape = (len(data), len(data.models))
    for held, got in parts:
        for name, pred in got.items():
            if name not in merged:
                merged[name] = Predicted(np.full(shape, np.nan), np.full(shape, np.nan))
            merged[name].quality[held] = pred.quality
            merged[name].cost[held] = pred.cost
    return merged


def score_holdout(
    train: RoutingDataset, test: RoutingDataset, cfg: TrainConfig, seed: int
) -> tuple[Scored, AutoRouter]:
    router = AutoRouter(train_router(train, cfg))
    run = replay(router, test, np.arange(len(test)), cfg.run_code)
    return Scored(_prompt_preds(router, train, test, seed), [run] if run else []), router


def score_cv(data: RoutingDataset, folds: int, cfg: TrainConfig, seed: int) -> Scored:
    parts, runs = [], []
    for k, (kept, held) in enumerate(_splits(data, folds, seed)):
        train = data.subset(kept)
        router = AutoRouter(train_router(train, cfg))
        parts.append((held, _prompt_preds(router, train, data.subset(held), seed + k)))
        run = replay(router, data, held, cfg.run_code)
        if run is not None:
            runs.append(run)
    # A cascade counts only where every fold had one; a partial one would mix two routers.
    return Scored(_merge_preds(data, parts), runs if len(runs) == folds else [])


def evaluate(
    train: RoutingDataset,
    test: RoutingDataset | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    cfg: TrainConfig | None = None,
    plot_dir: Path | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    cfg = cfg or TrainConfig(seed=seed)
    if prices:
        cfg = msgspec.structs.replace(cfg, prices={**cfg.prices, **prices})
    test = None if test is None else align(test, train.models)
    data = test if test is not None else train
    if test is None:
        mode = f"{folds}-fold cross-validation on the training file"
        scored = score_cv(train, folds, cfg, seed)
        router = AutoRouter(train_router(train, cfg))
    else:
        mode = "holdout: trained on --train, scored on --test"
        scored, router = score_holdout(train, test, cfg, seed)
    out: dict[str, Any] = {"dataset": data.name, "mode": mode, "n_train": len(train)}
    out["n_scored"] = len(data)
    sections = []
    if data.is_pair:
        sections.append(pair_report(data, scored, call_costs(data, prices)))
    if data.has_costs:
        sections.append(cost_report(data, scored))
    for section in sections:
        section["targets"] = targets(data.name, section)
        out[section["kind"]] = section
    out["latency"] = measure_latency(router, list(data.texts))
    cascade = measure_cascade(router, data)
    if cascade is not None:
        out["latency"]["cascade"] = cascade
    out["router"] = {
        "alpha": router.artifact.meta.alpha,
        "n_features": router.vectorizer.n_features,
        "cascade": router.artifact.meta.cascade is not None,
    }
    if plot_dir is not None:
        from tokenport.lab.router.plots import save_plots

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
