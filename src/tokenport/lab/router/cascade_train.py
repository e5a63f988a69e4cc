"""Learning a cascade from a routing file whose prompts carry each model's answer.

What is learned, all from the training file alone:
- the strong model: the pair file's `strong`, else the model with the best mean quality;
- the chain of cheap models (RouterBench files): grown greedily from the models that cost at
  most `cheap_share` of the strong one, each step adding the model that most raises the
  cascade's area under its cost-quality curve up to the strong model's cost, measured on
  folds of the training file; the chain stops growing when no model raises it;
- one trust model per chain stage (`cascade.fit_stage`) on the verifiers' numbers, with the
  prompt router's out-of-fold predictions as inputs, so it never sees predictions made on
  the prompts it is fitted to;
- the operating thresholds and the skip margin, from out-of-fold trust predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router.costs import call_costs
from tokenport.lab.router.data import RoutingDataset
from tokenport.lab.router.folds import group_folds
from tokenport.routing.auto import sandbox, verify
from tokenport.routing.auto.cascade import (
    ALPHAS,
    Answer,
    feature_names,
    fit_stage,
)
from tokenport.routing.auto.cascade import stage_vector as _stage_vector
from tokenport.routing.auto.cascade_meta import CascadeMeta, SkipRule
from tokenport.routing.auto.checks import code_blocks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
PGR_LEVELS = {"pgr50": 0.5, "pgr80": 0.8, "pgr90": 0.9}
DEFAULT_OPERATING = "pgr80"
MAX_CHAIN = 3
CHEAP_SHARE = 0.25
INNER_FOLDS = 5
HELP_CONFIDENCE = 0.9
# Fewer training prompts than this: the trust models keep the prompt router's ranking. Out
# of fold on a few dozen prompts, a learned correction cannot be told from noise: on
# MT-Bench (65 training prompts a fold) learned ones passed the bootstrap guard in some folds
# and ranked the held-out fold worse than the prompt router (bench/ROUTER.md).
MIN_LEARN = 150


@dataclass(frozen=True)
class Answers:
    """Every (prompt, model) answer of a file as the verifiers see it, computed once."""

    answers: dict[tuple[int, int], Answer]
    code: bool


# (prompt, answer) -> sandbox result: cross-validation trains on overlapping parts of one
# file, and each answer's code need only run once per process.
_RAN: dict[tuple[str, str], sandbox.CodeResult] = {}
_RAN_LIMIT = 200_000


def _run_code(prompt: str, answer: str) -> sandbox.CodeResult:
    key = (prompt, answer)
    if key not in _RAN:
        if len(_RAN) >= _RAN_LIMIT:
            _RAN.clear()
        _RAN[key] = sandbox.run(answer, prompt)
    return _RAN[key]


def answers_of(data: RoutingDataset, cols: Sequence[int], run_code: bool = True) -> Answers:
    """Verifier inputs for the given model columns. Code runs in the sandbox, a few at a time,
    only for answers that hold code; `code` is False when none did."""
    responses = data.responses
    assert responses is not None
    pairs = [(i, j) for i in range(len(data)) for j in cols if responses[i][j] is not None]
    code: dict[tuple[int, int], sandbox.CodeResult] = {}
    if run_code:
        with_code = [(i, j) for i, j in pairs if code_blocks(responses[i][j] or "")]
        if with_code:

            def run(ij: tuple[int, int]) -> sandbox.CodeResult:
                return _run_code(data.texts[ij[0]], responses[ij[0]][ij[1]] or "")

            with ThreadPoolExecutor(max_workers=4) as pool:
                code = dict(zip(with_code, pool.map(run, with_code), strict=True))
    out = {}
    for i, j in pairs:
        text = responses[i][j] or ""
        out[(i, j)] = Answer(
            model=data.models[j],
            text=text,
            code=code.get((i, j)),
            cues=verify.answer_cues(data.texts[i], text),
        )
    return Answers(out, bool(code))


@dataclass(frozen=True)
class Design:
    """A chain's training matrices: per stage, features, the trusted answer's column, and
    the gain the strong model adds over it (quality scale)."""

    x: list[FloatArray]
    picked: list[IntArray]
    gain: list[FloatArray]


def design(
    data: RoutingDataset,
    answers: Answers,
    meta: CascadeMeta,
    quality_pred: FloatArray,
) -> Design:
    col = {m: j for j, m in enumerate(data.models)}
    q = data.quality()
    strong = col[meta.strong]
    xs, picks, gains = [], [], []
    for k in range(len(meta.chain)):
        rows, picked = [], []
        for i in range(len(data)):
            chain_answers = [answers.answers[(i, col[m])] for m in meta.chain[: k + 1]]
            predicted = {m: float(quality_pred[i, j]) for m, j in col.items()}
            pick, x = _stage_vector(meta, k, data.texts[i], chain_answers, predicted)
            rows.append(x)
            picked.append(col[meta.chain[pick]])
        p = np.array(picked, dtype=np.intp)
        xs.append(np.array(rows))
        picks.append(p)
        gains.append(q[:, strong] - q[np.arange(len(data)), p])
    return Design(xs, picks, gains)


def _stub(chain: Sequence[str], strong: str, prior: dict[str, float], code: bool) -> CascadeMeta:
    return CascadeMeta(
        chain=list(chain),
        strong=strong,
        stages=[],
        prior=prior,
        threshold=0.0,
        operating={},
        skip=None,
        code=code,
        verifiers=[
            "answer",
            *(["code"] if code else []),
            *(["agreement"] if len(chain) > 1 else []),
        ],
    )


def fitted(
    meta: CascadeMeta,
    d: Design,
    alphas: Sequence[float],
    rows: IntArray | None = None,
) -> CascadeMeta:
    stages = []
    for k in range(len(meta.chain)):
        x, y = (d.x[k], d.gain[k]) if rows is None else (d.x[k][rows], d.gain[k][rows])
        stages.append(fit_stage(x, y, feature_names(k, meta.code), alphas[k]))
    return _replace(meta, stages=stages)


def ranking_area(score: FloatArray, gain: FloatArray) -> float:
    """How well a score ranks prompts by the gain of escalating them: the mean, over
    escalation shares 5%, 10%, ..., 100%, of the gain realized by escalating the top-scored
    share. The shape of RouteLLM's APGR, for any gain."""
    order = np.argsort(-score, kind="stable")
    realized = np.cumsum(gain[order])
    cuts = np.maximum(1, (np.linspace(0.05, 1.0, 20) * len(gain)).astype(int)) - 1
    return float(realized[cuts].mean())


def choose_alphas(
    meta: CascadeMeta, d: Design, groups: Sequence[str], seed: int, draws: int = 200
) -> tuple[list[float], FloatArray]:
    """Per stage, the penalty whose out-of-fold predictions rank prompts best
    (`ranking_area`), and those predictions. A finite penalty must beat the infinite one
    (the prompt router's ranking) in `HELP_CONFIDENCE` of bootstrap resamples of the prompts:
    on a file too small to learn from the answers (MT-Bench's 82 prompts), a noisy gain over
    the prompt router is no gain. Below `MIN_LEARN` prompts the infinite penalty is used."""
    k_stages = len(meta.chain)
    if len(d.gain[0]) < MIN_LEARN:
        flat = [np.inf] * k_stages
        return flat, out_of_fold_gains(meta, d, groups, seed, flat)
    oof = {a: out_of_fold_gains(meta, d, groups, seed, [a] * k_stages) for a in ALPHAS}
    rng = np.random.default_rng(seed)
    n = len(d.gain[0])
    samples = [rng.integers(0, n, n) for _ in range(draws)]
    chosen, best = [], np.zeros((k_stages, n))
    for k in range(k_stages):
        gain = d.gain[k]
        alpha = max(ALPHAS[:-1], key=lambda a: ranking_area(oof[a][k], gain))
        learned, prompt = oof[alpha][k], oof[np.inf][k]
        wins = [
            ranking_area(learned[b], gain[b]) > ranking_area(prompt[b], gain[b]) for b in samples
        ]
        if float(np.mean(wins)) < HELP_CONFIDENCE:
            alpha = np.inf
        chosen.append(alpha)
        best[k] = oof[alpha][k]
    return chosen, best


def _replace(meta: CascadeMeta, **changes: object) -> CascadeMeta:
    import msgspec

    return msgspec.structs.replace(meta, **changes)


def out_of_fold_gains(
    meta: CascadeMeta,
    d: Design,
    groups: Sequence[str],
    seed: int,
    alphas: Sequence[float],
) -> FloatArray:
    """(stages, n) trust predictions, each from stage models fitted without its fold."""
    n = len(d.gain[0])
    out = np.zeros((len(meta.chain), n))
    for held in group_folds(groups, INNER_FOLDS, seed):
        kept = np.setdiff1d(np.arange(n), held)
        m = fitted(meta, d, alphas, kept)
        for k, stage in enumerate(m.stages):
            out[k, held] = stage.gains(d.x[k][held])
    return out


def outcome(
    gains: FloatArray,
    picked: Sequence[IntArray],
    skip_at: FloatArray,
    threshold: float,
    chain_cols: Sequence[int],
    strong: int,
    values: FloatArray,
    costs: FloatArray | None,
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Per prompt at one threshold: (value of the served answer, cost of every call made,
    escalated). `values` is scores or quality; `costs` per call, None for no cost;
    `skip_at`: each prompt's skip score (`cascade.skip_score`)."""
    n = gains.shape[1]
    rows = np.arange(n)
    served = np.full(n, -1, dtype=np.intp)
    cost = np.zeros(n)
    open_ = ~(skip_at > threshold)
    for k, c in enumerate(chain_cols):
        if costs is not None:
            cost[open_] += costs[open_, c]
        stop = open_ & (gains[k] <= threshold)
        served[stop] = picked[k][stop]
        open_ &= ~stop
    escalated = served < 0
    served[escalated] = strong
    if costs is not None:
        cost[escalated] += costs[escalated, strong]
    return values[rows, served], cost, escalated


def thresholds(gains: FloatArray) -> FloatArray:
    """Candidate thresholds: every distinct predicted gain's quantile, and both ends."""
    qs = np.quantile(gains, np.linspace(0.0, 1.0, 201))
    return np.unique(np.concatenate([[-np.inf], qs, [np.inf]]))


def operating_points(
    gains: FloatArray,
    picked: Sequence[IntArray],
    skip_at: FloatArray,
    chain_cols: Sequence[int],
    strong: int,
    quality: FloatArray,
) -> dict[str, float]:
    """The highest threshold (least escalation) at which the cascade keeps each share of the
    strong model's gain over the first cheap model, out of fold."""
    q_cheap, q_strong = quality[:, chain_cols[0]].mean(), quality[:, strong].mean()
    out = {}
    ts = thresholds(gains)
    served = [
        outcome(gains, picked, skip_at, t, chain_cols, strong, quality, None)[0].mean() for t in ts
    ]
    for name, level in PGR_LEVELS.items():
        target = q_cheap + level * (q_strong - q_cheap)
        ok = [t for t, v in zip(ts, served, strict=True) if v >= target - 1e-12]
        best = max(ok) if ok else float(ts[0])
        out[name] = float(best) if np.isfinite(best) else (1e9 if best > 0 else -1e9)
    return out


def skip_rule(
    prompt_gain: FloatArray, least_gain: FloatArray, cost_ratio: float | None
) -> SkipRule | None:
    """`SkipRule` fitted on out-of-fold predictions: the least stage gain against the prompt
    router's predicted gain. A cheap call pays for itself when its answer is trusted more often
    than `cost_ratio` (cheap cost / strong cost) of the time. None without costs, or where
    the prompt router says nothing about the first stage (slope <= 0)."""
    if cost_ratio is None or not 0.0 < cost_ratio < 1.0 or np.ptp(prompt_gain) <= 0:
        return None
    slope, intercept = np.polyfit(prompt_gain, least_gain, 1)
    if slope <= 0:
        return None
    sigma = float(np.std(least_gain - (intercept + slope * prompt_gain)))
    z = NormalDist().inv_cdf(1.0 - cost_ratio)
    return SkipRule(float(intercept), float(slope), sigma, float(z))


def curve_area(
    gains: FloatArray,
    picked: Sequence[IntArray],
    chain_cols: Sequence[int],
    strong: int,
    scores: FloatArray,
    costs: FloatArray,
) -> float:
    """Mean quality over cost in [0, the strong model's mean cost], on the cascade's
    non-decreasing hull of (cost, quality) points, extended flat: AIQ with the strong model's
    cost as the range. The objective chains are grown by."""
    from tokenport.lab.router.metrics import nondecreasing_hull

    never = np.full(gains.shape[1], -np.inf)
    pts = []
    for t in thresholds(gains):
        v, c, _ = outcome(gains, picked, never, t, chain_cols, strong, scores, costs)
        pts.append((c.mean(), v.mean()))
    top = float(costs[:, strong].mean())
    pts.append((top, float(scores[:, strong].mean())))
    hull = nondecreasing_hull(np.array(pts))
    hull = hull[hull[:, 0] <= top]
    if len(hull) == 0:
        return 0.0
    ext = np.vstack([hull, [top, hull[-1, 1]]])
    return float(np.trapezoid(ext[:, 1], ext[:, 0])) / top


def train_cascade(
    data: RoutingDataset,
    quality_oof: FloatArray,
    *,
    seed: int = 0,
    run_code: bool = True,
    answers: Answers | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> CascadeMeta | None:
    """The cascade for this file, or None where it cannot have one (no answers, or a
    many-model file without costs). `quality_oof` is the prompt router's out-of-fold
    predicted quality, (n, models)."""
    if data.responses is None:
        return None
    q = data.quality()
    prior = {m: float(np.nanmean(q[:, j])) for j, m in enumerate(data.models)}
    col = {m: j for j, m in enumerate(data.models)}
    complete = [
        m for m in data.models if data.has_responses([m]) and np.isfinite(q[:, col[m]]).all()
    ]
    if data.is_pair:
        assert data.weak is not None
        assert data.strong is not None
        strong, candidates = data.strong, [data.weak] if data.weak in complete else []
        costs = None
        priced = call_costs(data, prices)
    else:
        if not data.has_costs:
            return None
        mean_cost = np.nanmean(data.costs, axis=0)
        strong = max(data.models, key=lambda m: (prior[m], -mean_cost[col[m]]))
        candidates = [
            m
            for m in complete
            if m != strong and mean_cost[col[m]] <= CHEAP_SHARE * mean_cost[col[strong]]
        ]
        costs = priced = np.nan_to_num(data.costs, nan=0.0)
    if not candidates or not np.isfinite(q[:, col[strong]]).all():
        return None
    answers = answers or answers_of(data, [col[m] for m in candidates], run_code)
    groups = data.groups or data.ids
    s_col = col[strong]
    tried: dict[tuple[str, ...], tuple[CascadeMeta, Design, list[float], FloatArray]] = {}

    def trial(chain: Sequence[str]) -> tuple[CascadeMeta, Design, list[float], FloatArray]:
        key = tuple(chain)
        if key not in tried:
            meta = _stub(chain, strong, prior, answers.code)
            d = design(data, answers, meta, quality_oof)
            tried[key] = (meta, d, *choose_alphas(meta, d, groups, seed))
        return tried[key]

    if costs is None:
        chain: list[str] = list(candidates)
    else:
        chain, area = [], -np.inf
        while len(chain) < MAX_CHAIN:
            scored = []
            for m in candidates:
                if m in chain:
                    continue
                _, d, _, g = trial([*chain, m])
                cols = [col[c] for c in [*chain, m]]
                scored.append((curve_area(g, d.picked, cols, s_col, data.scores, costs), m))
            if not scored:
                break
            best_area, best = max(scored)
            if best_area <= area + 1e-4:
                break
            chain, area = [*chain, best], best_area
    meta, d, alphas, g = trial(chain)
    cols = [col[c] for c in chain]
    prompt_gain = quality_oof[:, s_col] - quality_oof[:, cols[0]]
    ratio = None if priced is None else float(priced[:, cols[0]].mean() / priced[:, s_col].mean())
    rule = skip_rule(prompt_gain, g.min(axis=0), ratio)
    skip_at = np.full(len(data), -np.inf) if rule is None else rule.scores(prompt_gain)
    ops = operating_points(g, d.picked, skip_at, cols, s_col, q)
    final = fitted(meta, d, alphas)
    return _replace(final, threshold=ops[DEFAULT_OPERATING], operating=ops, skip=rule)
