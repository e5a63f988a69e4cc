"""Runtime routing for `model: "auto"`: pick the cheapest model of a pool that is good enough.

`AutoRouter.decide(prompt, pool, quality_floor, max_price)` predicts each pool model's
quality on [0, 1] and its expected cost in USD, then:

- `max_price` (hard): only models whose expected cost is at most it; none -> NoCandidateError;
- `quality_floor` (soft, it is a prediction): the cheapest model predicted to reach it; if
  none does, the best predicted one, and the reason says the floor was not reached;
- neither: the pool's trade-off, argmax(quality - tradeoff * cost); tradeoff is quality
  points given up per USD saved, so 0 means "best predicted quality".

A decision is one sparse dot product per model over a few hundred features (see
`features.py`): well under a millisecond. numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto.errors import ArtifactError, NoCandidateError
from tokenport.routing.auto.model import RouterArtifact

FloatArray = NDArray[np.float64]


class Pool(msgspec.Struct, frozen=True):
    """A named candidate set. `prices` (expected USD per call) overrides or supplies the
    artifact's cost model, e.g. from the catalog, for models trained without costs."""

    name: str = "default"
    models: tuple[str, ...] = ()
    tradeoff: float = 0.0
    prices: Mapping[str, float] = msgspec.field(default_factory=dict)


class Decision(msgspec.Struct, frozen=True):
    model: str
    predicted_quality: float
    expected_cost: float
    reason: str
    scores: dict[str, float]
    costs: dict[str, float]
    router_version: str


class AutoRouter:
    def __init__(self, artifact: RouterArtifact) -> None:
        self.artifact = artifact
        self.vectorizer = artifact.vectorizer()
        self._col = {m: i for i, m in enumerate(artifact.meta.models)}

    @classmethod
    def load(cls, path: str | Path) -> AutoRouter:
        """Load an artifact (`routing/autoroute.py`'s `load_router` replays feedback on it)."""
        return cls(RouterArtifact.load(path))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.artifact.meta.models)

    def predict(self, text: str) -> tuple[FloatArray, FloatArray]:
        """(quality, expected cost) for every artifact model, in `models` order."""
        cols, vals = self.vectorizer.transform(text)
        art = self.artifact
        quality = np.clip(art.intercept + vals @ art.weights[cols], 0.0, 1.0)
        cost = art.cost_base + art.cost_per_char * len(text)
        return quality, cost

    def decide(
        self,
        prompt: str,
        pool: Pool,
        quality_floor: float | None = None,
        max_price: float | None = None,
    ) -> Decision:
        names = self._pool_models(pool)
        quality_all, cost_all = self.predict(prompt)
        cols = [self._col[m] for m in names]
        quality = quality_all[cols]
        cost = self._costs(names, cost_all[cols], pool.prices)
        pick, why = choose(quality, cost, pool.tradeoff, quality_floor, max_price)
        return Decision(
            model=names[pick],
            predicted_quality=round(float(quality[pick]), 4),
            expected_cost=float(cost[pick]),
            reason=f"{pool.name}: {why}",
            scores={m: round(float(q), 4) for m, q in zip(names, quality, strict=True)},
            costs={m: float(c) for m, c in zip(names, cost, strict=True)},
            router_version=self.artifact.meta.router_version,
        )

    def _pool_models(self, pool: Pool) -> list[str]:
        names = list(pool.models or self.models)
        unknown = [m for m in names if m not in self._col]
        if unknown:
            raise ArtifactError(
                f"pool {pool.name}: the router was not trained on {', '.join(unknown)}"
            )
        if not names:
            raise ArtifactError(f"pool {pool.name} has no models")
        return names

    @staticmethod
    def _costs(names: Sequence[str], cost: FloatArray, prices: Mapping[str, float]) -> FloatArray:
        out = np.array([prices.get(m, c) for m, c in zip(names, cost, strict=True)])
        if not np.isfinite(out).all():
            unpriced = [m for m, c in zip(names, out, strict=True) if not np.isfinite(c)]
            raise ArtifactError(f"no price for {', '.join(unpriced)}: give the pool prices")
        return out


def choose(
    quality: FloatArray,
    cost: FloatArray,
    tradeoff: float,
    quality_floor: float | None = None,
    max_price: float | None = None,
) -> tuple[int, str]:
    """Index of the chosen model and a one-line reason. Pure, so eval can sweep it."""
    allowed = np.ones(len(quality), bool)
    if max_price is not None:
        allowed = cost <= max_price
        if not allowed.any():
            raise NoCandidateError(
                f"no model is expected to cost at most ${max_price:.6g}; "
                f"the cheapest is ${float(cost.min()):.6g}"
            )
    idx = np.flatnonzero(allowed)
    if quality_floor is not None:
        good = idx[quality[idx] >= quality_floor]
        if good.size:
            pick = int(good[np.lexsort((-quality[good], cost[good]))[0]])
            return pick, _why(quality, cost, pick, f"cheapest predicted >= {quality_floor:g}")
        pick = int(idx[np.argmax(quality[idx])])
        return pick, _why(quality, cost, pick, f"none predicted >= {quality_floor:g}; best")
    if max_price is not None:
        pick = int(idx[np.lexsort((cost[idx], -quality[idx]))[0]])
        return pick, _why(quality, cost, pick, f"best predicted within ${max_price:.6g}")
    value = quality - tradeoff * cost
    pick = int(np.lexsort((cost, -value))[0])
    return pick, _why(quality, cost, pick, f"best quality - {tradeoff:g} x cost")


def _why(quality: FloatArray, cost: FloatArray, pick: int, rule: str) -> str:
    return (
        f"{rule}: predicted quality {quality[pick]:.3f} "
        f"(pool best {quality.max():.3f}), expected cost ${cost[pick]:.6g}"
    )
