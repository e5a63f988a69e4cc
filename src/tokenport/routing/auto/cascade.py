"""The trained cascade: call cheap models in a chain, trust an answer or escalate.

A cascade is a chain of cheap models and one strong model, learned from a routing file
(`lab/router/cascade_train.py`). For a prompt:
1. the prompt router predicts each model's quality; where it is confident enough that the
   cascade would escalate anyway that the cheap call cannot pay for itself (`SkipRule`,
   in `cascade_meta.py`), the cheap call is skipped and the strong model answers;
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
from tokenport.routing.auto.cascade_meta import CascadeMeta, Stage
from tokenport.routing.auto.sandbox import CodeResult

FloatArray = NDArray[np.float64]
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, float("inf"))  # inf: the prompt router


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
