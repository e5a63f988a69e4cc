"""The router artifact: what `tokenport router train` writes and the gateway loads at start.

One `.npz` file, read with `allow_pickle=False`:
- `meta`: UTF-8 JSON of `ArtifactMeta` (format version, creation time, features, models);
- `feature_ids`, `idf`: the hashed n-gram buckets seen in training and their idf;
- `dense_mean`, `dense_std`: standardization of the dense cues;
- `weights` (n_features, n_models), `intercept` (n_models,): the quality ridge;
- `cost_base`, `cost_per_char` (n_models,): expected USD per call = base + per_char * chars;
  NaN for a model whose training data had no costs (then the pool must price it).

The cascade (chain, trust models, thresholds) is small and lives in `meta.cascade`.

Quality is on [0, 1]: each training file's scores are rescaled by their observed range.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto.cascade_meta import CascadeMeta
from tokenport.routing.auto.errors import ArtifactError
from tokenport.routing.auto.features import FeatureConfig, Vectorizer

FORMAT_VERSION = 1
FloatArray = NDArray[np.float64]
_ARRAYS = (
    "feature_ids",
    "idf",
    "dense_mean",
    "dense_std",
    "weights",
    "intercept",
    "cost_base",
    "cost_per_char",
)


class ArtifactMeta(msgspec.Struct, frozen=True):
    format_version: int
    router_version: str
    created: str
    features: FeatureConfig
    models: list[str]
    datasets: list[str]
    n_train: int
    alpha: float
    weak: str | None = None
    strong: str | None = None
    # The verify-then-escalate cascade, where the training file carried answers (`cascade.py`);
    # artifacts without it (older ones, or score-only files) route on the prompt alone.
    cascade: CascadeMeta | None = None


class RouterArtifact:
    """A trained router: its metadata and arrays. Mutable only through feedback updates."""

    def __init__(self, meta: ArtifactMeta, arrays: dict[str, NDArray[np.generic]]) -> None:
        missing = [k for k in _ARRAYS if k not in arrays]
        if missing:
            raise ArtifactError(f"router artifact lacks arrays: {', '.join(missing)}")
        self.meta = meta
        self.feature_ids = np.asarray(arrays["feature_ids"], dtype=np.int64)
        self.idf = np.asarray(arrays["idf"], dtype=np.float64)
        self.dense_mean = np.asarray(arrays["dense_mean"], dtype=np.float64)
        self.dense_std = np.asarray(arrays["dense_std"], dtype=np.float64)
        self.weights = np.asarray(arrays["weights"], dtype=np.float64)
        self.intercept = np.asarray(arrays["intercept"], dtype=np.float64)
        self.cost_base = np.asarray(arrays["cost_base"], dtype=np.float64)
        self.cost_per_char = np.asarray(arrays["cost_per_char"], dtype=np.float64)
        self._check_shapes()

    def _check_shapes(self) -> None:
        m = len(self.meta.models)
        if self.weights.ndim != 2 or self.weights.shape[1] != m or self.intercept.shape != (m,):
            raise ArtifactError("router artifact: weights do not match its model list")
        if self.cost_base.shape != (m,) or self.cost_per_char.shape != (m,):
            raise ArtifactError("router artifact: cost model does not match its model list")

    def vectorizer(self) -> Vectorizer:
        return Vectorizer(
            self.meta.features, self.feature_ids, self.idf, self.dense_mean, self.dense_std
        )

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename), so a gateway never loads half a file."""
        path = Path(path)
        buf = io.BytesIO()
        meta = np.frombuffer(msgspec.json.encode(self.meta), dtype=np.uint8)
        np.savez_compressed(buf, meta=meta, **{k: getattr(self, k) for k in _ARRAYS})
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RouterArtifact:
        try:
            with np.load(Path(path), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read router artifact {path}: {exc}") from exc
        if "meta" not in arrays:
            raise ArtifactError(f"{path}: not a router artifact (no meta)")
        try:
            meta = msgspec.json.decode(arrays.pop("meta").tobytes(), type=ArtifactMeta)
        except msgspec.DecodeError as exc:
            raise ArtifactError(f"{path}: bad router metadata: {exc}") from exc
        if meta.format_version != FORMAT_VERSION:
            raise ArtifactError(
                f"{path}: router format {meta.format_version}, this tokenport reads "
                f"{FORMAT_VERSION}; retrain with `tokenport router train`"
            )
        return cls(meta, arrays)


def new_version(created: datetime | None = None) -> tuple[str, str]:
    """(router_version, created ISO time): the version is the UTC creation stamp."""
    now = created or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ"), now.isoformat(timespec="seconds")
