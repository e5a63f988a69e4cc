"""The cascade under `router eval`: replayed on recorded answers, every call counted.

For each scored prompt the trained cascade sees what it would see live: the prompt router's
predictions (from the router trained without that prompt), then the chain models' recorded
answers one stage at a time. At a threshold it either serves the trusted cheap answer or
escalates; the cost of a prompt is every call the cascade made for it: each chain model
it called, and the strong model when it escalated (or skipped the chain). The verifiers
`router eval` can replay (answer checks, code runs, agreement between chain models) cost
what their calls cost; `logprobs` and `self_check` need live upstreams and are not replayed.

Pair files without recorded costs are priced by `call_costs`: list prices per million tokens
(`PAIR_PRICES`, overridable) times the prompt's and the recorded answer's length in tokens,
estimated at 4 characters a token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto.cascade import CascadeMeta, skip, stage_vector
from tokenport.routing.auto.cascade_train import answers_of, outcome
from tokenport.routing.auto.data import RoutingDataset
from tokenport.routing.auto.decide import AutoRouter

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
CHARS_PER_TOKEN = 4.0
# USD per million (input, output) tokens for the RouteLLM pair, from the bundled catalog:
# Mixtral 8x7B at Mistral's list price (mistral/open-mixtral-8x7b), GPT-4-1106-preview at
# GPT-4 Turbo's (openai/gpt-4-turbo).
PAIR_PRICES: dict[str, tuple[float, float]] = {
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.7, 0.7),
    "gpt-4-1106-preview": (10.0, 30.0),
}


def call_costs(
    data: RoutingDataset, prices: Mapping[str, tuple[float, float]] | None = None
) -> FloatArray | None:
    """(n, models) USD per call: recorded `cost_usd` where the file has it, else priced from
    token estimates; None when a model has neither."""
    prices = {**PAIR_PRICES, **(prices or {})}
    out = data.costs.copy()
    prompt_tokens = np.array([len(t) for t in data.texts]) / CHARS_PER_TOKEN
    for j, m in enumerate(data.models):
        missing = ~np.isfinite(out[:, j])
        if not missing.any():
            continue
        if m not in prices:
            return None
        p_in, p_out = prices[m]
        if data.responses is not None:
            chars = np.array([len(r[j] or "") for r in data.responses], dtype=np.float64)
        else:
            chars = np.zeros(len(data))
        # A file without answers (MMLU) keeps one letter: a token out.
        out_tokens = np.maximum(chars / CHARS_PER_TOKEN, 1.0)
        out[missing, j] = ((prompt_tokens * p_in + out_tokens * p_out) / 1e6)[missing]
    return out


@dataclass(frozen=True)
class CascadeRun:
    """One trained cascade replayed on some of the scored prompts (`rows`)."""

    rows: IntArray
    gains: FloatArray  # (stages, len(rows)) predicted gain after each stage
    picked: list[IntArray]  # per stage, the column of the answer it would serve
    skipped: BoolArray
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
            self.skipped,
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
    skipped = np.zeros(n, dtype=bool)
    names = router.models
    for i in range(n):
        q, _ = router.predict(sub.texts[i])
        quality = {m: float(v) for m, v in zip(names, q, strict=True)}
        skipped[i] = skip(meta, quality)
        chain_answers = [answers.answers[(i, col[m])] for m in meta.chain]
        for s, stage in enumerate(meta.stages):
            pick, x = stage_vector(meta, s, sub.texts[i], chain_answers, quality)
            gains[s, i] = stage.gain(x)
            picked[s, i] = col[meta.chain[pick]]
    return CascadeRun(
        rows=np.asarray(rows, dtype=np.intp),
        gains=gains,
        picked=list(picked),
        skipped=skipped,
        chain=[col[m] for m in meta.chain],
        strong=col[meta.strong],
        meta=meta,
    )


def grid(runs: Sequence[CascadeRun]) -> FloatArray:
    """Thresholds to sweep: quantiles of every run's predicted gains, and both ends."""
    allg = np.concatenate([r.gains.ravel() for r in runs])
    return np.unique(np.concatenate([[-np.inf], np.quantile(allg, np.linspace(0, 1, 301)), [np.inf]]))


def sweep(
    runs: Sequence[CascadeRun], data: RoutingDataset, costs: FloatArray
) -> FloatArray:
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


def pair_score(runs: Sequence[CascadeRun], n: int) -> FloatArray:
    """A RouteLLM router score per prompt: the predicted gain after the last stage (one cheap
    model: its answer's), skipped prompts above every other score."""
    score = np.zeros(n)
    for r in runs:
        score[r.rows] = r.gains[-1]
    top = float(score.max()) + 1.0
    for r in runs:
        score[r.rows[r.skipped]] = top
    return score


def called_cheap(runs: Sequence[CascadeRun], n: int) -> BoolArray:
    out = np.zeros(n, dtype=bool)
    for r in runs:
        out[r.rows] = ~r.skipped
    return out
