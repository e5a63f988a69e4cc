"""Training: prompts and per-model scores in, a `RouterArtifact` out. numpy only.

The model predicts each candidate's quality on [0, 1] from the prompt with one ridge
regression per model over shared TF-IDF features (`routing/auto/features.py`, `ridge.py`). The ridge
penalty is chosen inside the training data (a seeded holdout, smallest held-out squared
error), so evaluation folds never tune it. Expected cost per call is a per-model line in
prompt length, fitted to the recorded `cost_usd`: longer prompts cost more input tokens.

A kNN over training prompts was tried as well; under cross-validation it did not beat the
ridge on these files and it costs memory and latency, so the ridge stands alone.
"""

from __future__ import annotations

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router.cascade_train import INNER_FOLDS, train_cascade
from tokenport.lab.router.data import RoutingDataset
from tokenport.lab.router.folds import group_folds
from tokenport.lab.router.ridge import Csr, RidgeFit, fit_ridge
from tokenport.routing.auto.cascade_meta import CascadeMeta
from tokenport.routing.auto.features import FeatureConfig, Vectorizer
from tokenport.routing.auto.model import FORMAT_VERSION, ArtifactMeta, RouterArtifact, new_version

FloatArray = NDArray[np.float64]


class TrainConfig(msgspec.Struct, frozen=True):
    features: FeatureConfig = msgspec.field(default_factory=FeatureConfig)
    alphas: tuple[float, ...] = (10.0, 3.0, 1.0, 0.3)
    alpha: float | None = None  # fixed penalty; skips the holdout search
    holdout: float = 0.2
    seed: int = 0
    cascade: bool = True  # learn a cascade where the file carries the models' answers
    run_code: bool = True  # the code verifier runs answers' Python while training
    # USD per million (input, output) tokens, to price calls of a file without `cost_usd`
    # (`costs.call_costs`): whether skipping a cheap call pays depends on what it costs.
    prices: dict[str, tuple[float, float]] = msgspec.field(default_factory=dict)


def train_router(data: RoutingDataset, cfg: TrainConfig | None = None) -> RouterArtifact:
    cfg = cfg or TrainConfig()
    vec = Vectorizer.fit(data.texts, cfg.features)
    x = Csr.from_rows([vec.transform(t) for t in data.texts], vec.n_features)
    y = data.quality()
    alpha = cfg.alpha if cfg.alpha is not None else select_alpha(x, y, cfg)
    fit = fit_ridge(x, y, alpha)
    cascade = None
    if cfg.cascade and data.responses is not None:
        inner = msgspec.structs.replace(cfg, cascade=False, alpha=alpha)
        cascade = train_cascade(
            data,
            out_of_fold_quality(data, inner),
            seed=cfg.seed,
            run_code=cfg.run_code,
            prices=cfg.prices,
        )
    return _artifact(data, vec, fit, alpha, cascade)


def out_of_fold_quality(data: RoutingDataset, cfg: TrainConfig) -> FloatArray:
    """Each prompt's predicted quality per model from a prompt router trained without its
    fold: what the cascade's trust models are fitted on, as they will see at runtime."""
    from tokenport.routing.auto.decide import AutoRouter

    out = np.full((len(data), len(data.models)), np.nan)
    for held in group_folds(data.groups or data.ids, INNER_FOLDS, cfg.seed):
        kept = np.setdiff1d(np.arange(len(data)), held)
        router = AutoRouter(train_router(data.subset(kept), cfg))
        for i in held:
            out[i] = router.predict(data.texts[i])[0]
    return out


def select_alpha(x: Csr, y: FloatArray, cfg: TrainConfig) -> float:
    """The penalty with the least held-out squared error, from largest to smallest so each
    solve warm-starts from the previous, smoother one."""
    n = x.n_rows
    if n < 10 or len(cfg.alphas) == 1:
        return cfg.alphas[0]
    order = np.random.default_rng(cfg.seed).permutation(n)
    cut = max(1, int(n * cfg.holdout))
    held, kept = np.sort(order[:cut]), np.sort(order[cut:])
    x_fit, x_held, y_held = x.take(kept), x.take(held), y[held]
    best, best_err, warm = cfg.alphas[0], np.inf, None
    for alpha in cfg.alphas:
        fit = fit_ridge(x_fit, y[kept], alpha, warm=warm)
        warm = fit.weights
        err = float(np.nanmean((fit.predict(x_held) - y_held) ** 2))
        if err < best_err:
            best, best_err = alpha, err
    return best


def fit_costs(data: RoutingDataset) -> tuple[FloatArray, FloatArray]:
    """Per model, expected USD per call = base + per_char * len(prompt); NaN without data."""
    chars = np.array([len(t) for t in data.texts], dtype=np.float64)
    base = np.full(len(data.models), np.nan)
    slope = np.full(len(data.models), np.nan)
    for m in range(len(data.models)):
        seen = np.isfinite(data.costs[:, m])
        if not seen.any():
            continue
        c, n = data.costs[seen, m], chars[seen]
        if seen.sum() >= 3 and np.ptp(n) > 0:
            b, a = np.polyfit(n, c, 1)
            slope[m], base[m] = max(float(b), 0.0), float(a)
            if base[m] < 0:  # keep the line positive on the prompts seen
                base[m] = float(max(0.0, (c - slope[m] * n).min()))
        else:
            slope[m], base[m] = 0.0, float(c.mean())
    return base, slope


def _artifact(
    data: RoutingDataset,
    vec: Vectorizer,
    fit: RidgeFit,
    alpha: float,
    cascade: CascadeMeta | None = None,
) -> RouterArtifact:
    version, created = new_version()
    cost_base, cost_per_char = fit_costs(data)
    meta = ArtifactMeta(
        format_version=FORMAT_VERSION,
        router_version=version,
        created=created,
        features=vec.cfg,
        models=list(data.models),
        datasets=data.name.split("+"),
        n_train=len(data),
        alpha=alpha,
        weak=data.weak,
        strong=data.strong,
        cascade=cascade,
    )
    arrays: dict[str, NDArray[np.generic]] = {
        "feature_ids": vec.ids,
        "idf": vec.idf,
        "dense_mean": vec.dense_mean,
        "dense_std": vec.dense_std,
        "weights": fit.weights,
        "intercept": fit.intercept,
        "cost_base": cost_base,
        "cost_per_char": cost_per_char,
    }
    return RouterArtifact(meta, arrays)
