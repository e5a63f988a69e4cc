"""The cascade under `router eval`: replayed on recorded answers, every call counted.

For each scored prompt the trained cascade sees what it would see live: the prompt router's
predictions (from the router trained without that prompt), then the chain models' recorded
answers one stage at a time. At a threshold it either serves the trusted cheap answer or
escalates; the cost of a prompt is every call the cascade made for it: each chain model
it called, and the strong model when it escalated (or skipped the chain). The verifiers
`router eval` can replay (answer checks, code runs, agreement between chain models) cost
what their calls cost; `logprobs` and `self_check` need live upstreams and are not replayed.

Pair files without recorded costs are priced by `costs.call_costs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router.cascade_train import answers_of, outcome
from tokenport.lab.router.costs import PAIR_PRICES, call_costs
from tokenport.lab.router.data import RoutingDataset
from tokenport.routing.auto.cascade import stage_vector
from tokenport.routing.auto.cascade_meta import CascadeMeta, skip_score
from tokenport.routing.auto.decide import AutoRouter

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
__all__ = ["PAIR_PRICES", "CascadeRun", "call_costs", "replay", "sweep"]


@dataclass(frozen=True)
class CascadeRun:
    """One trained cascade replayed on some of the scored prompts (`rows`)."""

    rows: IntArray
    gains: FloatArray  # (stages, len(rows)) predicted gain after each stage
    picked: list[IntArray]  # per stage, the column of the answer it would serve
    skip_at: FloatArray  # skip the cheap call at thresholds below this
    chain: list[int]
    strong: int
    meta: CascadeMeta

    def outcome(
        self, threshold: float, values: FloatArray, costs: FloatArray | None
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        r = self.rows
        return outcome(
            self.gains,
            self.picked,
            self.skip_at,
            threshold,
            self.chain,
            self.strong,
            values[r],
            None if costs is None else costs[r],
        )


def replay(
    router: AutoRouter, data: RoutingDataset, rows: IntArray, run_code: bool = True
) -> CascadeRun | None:
    meta = router.artifact.meta.cascade
    if meta is None or data.responses is None:
        return None
    col = {m: j for j, m in enumerate(data.models)}
    if any(m not in col for m in [*meta.chain, meta.strong]):
        return None
    sub = data.subset(rows)
    if not sub.has_responses(meta.chain):
        return None
    answers = answers_of(sub, [col[m] for m in meta.chain], run_code and meta.code)
    n, k = len(sub), len(meta.chain)
    gains, picked = np.zeros((k, n)), np.zeros((k, n), dtype=np.intp)
    skip_at = np.full(n, -np.inf)
    names = router.models
    for i in range(n):
        q, _ = router.predict(sub.texts[i])
        quality = {m: float(v) for m, v in zip(names, q, strict=True)}
        skip_at[i] = skip_score(meta, quality)
        chain_answers = [answers.answers[(i, col[m])] for m in meta.chain]
        for s, stage in enumerate(meta.stages):
            pick, x = stage_vector(meta, s, sub.texts[i], chain_answers, quality)
            gains[s, i] = stage.gain(x)
            picked[s, i] = col[meta.chain[pick]]
    return CascadeRun(
        rows=np.asarray(rows, dtype=np.intp),
        gains=gains,
        picked=list(picked),
        skip_at=skip_at,
        chain=[col[m] for m in meta.chain],
        strong=col[meta.strong],
        meta=meta,
    )


def grid(runs: Sequence[CascadeRun]) -> FloatArray:
    """Thresholds to sweep: quantiles of every run's predicted gains, and both ends."""
    allg = np.concatenate([r.gains.ravel() for r in runs])
    return np.unique(
        np.concatenate([[-np.inf], np.quantile(allg, np.linspace(0, 1, 301)), [np.inf]])
    )


def sweep(runs: Sequence[CascadeRun], data: RoutingDataset, costs: FloatArray) -> FloatArray:
    """(mean cost, mean score, strong share) of the cascade at each threshold, plus the
    all-skip point (the strong model alone), over all prompts the runs cover."""
    n = sum(len(r.rows) for r in runs)
    pts = []
    for t in grid(runs):
        value = cost = strong = 0.0
        for r in runs:
            v, c, esc = r.outcome(t, data.scores, costs)
            value, cost, strong = value + v.sum(), cost + c.sum(), strong + esc.sum()
        pts.append((cost / n, value / n, strong / n))
    rows = np.concatenate([r.rows for r in runs])
    s = runs[0].strong
    pts.append((costs[rows, s].mean(), data.scores[rows, s].mean(), 1.0))
    return np.array(pts)


def pair_scores(runs: Sequence[CascadeRun], n: int) -> tuple[FloatArray, FloatArray]:
    """A one-model chain as a RouteLLM router: (score, skip score) per prompt. At threshold
    t the strong model answers where score > t (the answer was not trusted, or the cheap
    call was skipped) and the cheap call is made where skip score <= t."""
    score, skip_at = np.zeros(n), np.zeros(n)
    for r in runs:
        score[r.rows] = np.maximum(r.gains[-1], r.skip_at)
        skip_at[r.rows] = r.skip_at
    return score, skip_at
