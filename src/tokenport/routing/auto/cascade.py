"""The trained cascade: call cheap models in a chain, trust an answer or escalate.

A cascade is a chain of cheap models and one strong model, learned from a routing file
(`lab/router/cascade_train.py`). For a prompt:
1. the prompt router predicts each model's quality; where it is confident enough that the
   cascade would escalate anyway that the cheap call cannot pay for itself (`SkipRule`),
   the cheap call is skipped and the strong model answers;
2. otherwise the chain's models are called in order; after each call, stage k's trust model
   predicts the gain the strong model would add over the answer chosen so far (a ridge over
   the verifiers' numbers, `verify.py`); at or under the threshold, that answer is served;
3. past the chain's end, the strong model answers.

The threshold trades quality for cost: 0 trusts an answer only where the strong model is
predicted to add nothing; training stores the thresholds at which, on prompts held out of
each fit, the cascade recovered 50%, 80% and 90% of the strong model's gain
(`operating`). Everything here is numpy and fits in the router artifact's metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto import verify
from tokenport.routing.auto.sandbox import CodeResult

FloatArray = NDArray[np.float64]
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, float("inf"))  # inf: the prompt router


class Stage(msgspec.Struct, frozen=True):
    """One trust model: predicted gain = intercept + weights . ((x - mean) / scale)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    intercept: float
    alpha: float  # -1: infinite (the prompt router's ranking)

    def gain(self, x: FloatArray) -> float:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(self.intercept + z @ np.asarray(self.weights))

    def gains(self, x: FloatArray) -> FloatArray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        out: FloatArray = self.intercept + z @ np.asarray(self.weights)
        return out


class SkipRule(msgspec.Struct, frozen=True):
    """When to skip the cheap call, from the prompt alone.

    The cascade escalates at threshold t when every stage's predicted gain is above t. The
    least of them, seen from the prompt only, is modelled as intercept + slope * (the
    prompt router's predicted gain) plus Gaussian noise of `sigma`.
    The cheap call is worth making unless the cascade would escalate anyway with
    probability above 1 - (cheap cost / strong cost); `z` is that probability's normal
    quantile. So at threshold t: skip when intercept + slope * gain - sigma * z > t. The
    skip follows the threshold: a cascade that rarely escalates rarely skips.
    """

    intercept: float
    slope: float
    sigma: float
    z: float

    def score(self, prompt_gain: float) -> float:
        return self.intercept + self.slope * prompt_gain - self.sigma * self.z

    def scores(self, prompt_gain: FloatArray) -> FloatArray:
        out: FloatArray = self.intercept + self.slope * prompt_gain - self.sigma * self.z
        return out


class CascadeMeta(msgspec.Struct, frozen=True):
    chain: list[str]  # cheap models, in calling order
    strong: str
    stages: list[Stage]  # one per chain model
    prior: dict[str, float]  # mean training quality per model: breaks agreement ties
    threshold: float  # the default: escalate when the predicted gain is above it
    operating: dict[str, float]  # named thresholds ("pgr50", "pgr80", "pgr90")
    skip: SkipRule | None  # None: the cheap call is never skipped
    code: bool  # whether the code verifier's numbers are features
    verifiers: list[str]  # the learned verifiers the stages read


def fit_stage(x: FloatArray, y: FloatArray, names: Sequence[str], alpha: float) -> Stage:
    """Ridge on standardized features, shrunk toward the prompt router: the penalty pulls
    the weights toward "predicted gain = the prompt router's predicted gain" (weight 1 on
    `prompt_gain`, 0 elsewhere) rather than toward a constant, so an infinite penalty is the
    prompt router's own ranking. Training picks `alpha` (`cascade_train.choose_alphas`)."""
    mean = x.mean(0)
    scale = x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    prior = np.zeros(x.shape[1])
    if "prompt_gain" in names:
        prior[list(names).index("prompt_gain")] = scale[list(names).index("prompt_gain")]
    w = np.zeros_like(prior)
    if np.isfinite(alpha):
        yc = y - y.mean() - z @ prior
        w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ yc)
    return Stage(
        features=list(names),
        mean=mean.tolist(),
        scale=scale.tolist(),
        weights=(w + prior).tolist(),
        intercept=float(y.mean()),
        alpha=float(alpha) if np.isfinite(alpha) else -1.0,
    )


def feature_names(stage: int, code: bool) -> list[str]:
    names = list(verify.PROMPT_CUES) + list(verify.ANSWER_CUES)
    if code:
        names += list(verify.CODE_CUES)
    if stage > 0:
        names += list(verify.AGREEMENT_CUES)
    return names


class Answer(msgspec.Struct, frozen=True):
    """One chain model's answer as the verifiers see it."""

    model: str
    text: str
    finish_reason: str | None = None
    code: CodeResult | None = None
    cues: FloatArray | None = None  # precomputed `answer_cues` (training caches them)


def stage_vector(
    meta: CascadeMeta,
    stage: int,
    prompt: str,
    answers: Sequence[Answer],
    quality: dict[str, float],
) -> tuple[int, FloatArray]:
    """(index of the answer to trust, the stage's feature vector) after `stage + 1` calls.

    `quality` is the prompt router's predicted quality per model (the strong one included).
    """
    called = answers[: stage + 1]
    prior = [meta.prior.get(a.model, 0.0) for a in called]
    pick, agree = verify.consensus(prompt, [a.text for a in called], prior)
    a = called[pick]
    cues = a.cues if a.cues is not None else verify.answer_cues(prompt, a.text, a.finish_reason)
    q_strong, q_pick = quality.get(meta.strong, 0.0), quality.get(a.model, 0.0)
    parts = [np.array([q_strong - q_pick, q_pick, meta.prior.get(a.model, 0.0)]), cues]
    if meta.code:
        parts.append(verify.code_cues(a.code or CodeResult()))
    if stage > 0:
        parts.append(agree)
    return pick, np.concatenate(parts)


def skip_score(meta: CascadeMeta, quality: dict[str, float]) -> float:
    """Skip the cheap call at thresholds below this (-inf: never)."""
    if meta.skip is None or not meta.chain:
        return -np.inf
    return meta.skip.score(quality.get(meta.strong, 0.0) - quality.get(meta.chain[0], 0.0))


def skip(meta: CascadeMeta, quality: dict[str, float], threshold: float | None = None) -> bool:
    return skip_score(meta, quality) > (meta.threshold if threshold is None else threshold)
