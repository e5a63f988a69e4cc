"""A trained cascade's metadata and its prompt-only skip rule: what the router artifact
stores and what routing reads before any call. The verifiers that read answers (`cascade.py`,
`verify.py`, the code sandbox) load only when a cascade runs, so a gateway without cascade
pools never imports them.
"""

from __future__ import annotations

import msgspec
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


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


def skip_score(meta: CascadeMeta, quality: dict[str, float]) -> float:
    """Skip the cheap call at thresholds below this (-inf: never)."""
    if meta.skip is None or not meta.chain:
        return -np.inf
    return meta.skip.score(quality.get(meta.strong, 0.0) - quality.get(meta.chain[0], 0.0))


def skip(meta: CascadeMeta, quality: dict[str, float], threshold: float | None = None) -> bool:
    return skip_score(meta, quality) > (meta.threshold if threshold is None else threshold)
