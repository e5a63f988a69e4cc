"""Multi-output ridge regression on sparse features, solved with block conjugate gradients.

numpy has no sparse matrices and the gateway must not need scipy, so `Csr` keeps just what
the solver uses: X @ P by `np.add.reduceat` over rows, and X.T @ R over a column-sorted
copy. Every output (one per model) has its own row mask, since a model may have results on
only some prompts (several files, feedback). X is centered per output implicitly, as
sklearn's sparse ridge does, so the intercept is not penalized and the system stays well
conditioned without densifying X.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Csr:
    indptr: IntArray
    indices: IntArray
    data: FloatArray
    n_cols: int

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[IntArray, FloatArray]], n_cols: int) -> Csr:
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate([r[0] for r in rows]).astype(np.int64) if rows else lengths
        data = (
            np.concatenate([r[1] for r in rows]).astype(np.float64)
            if rows
            else np.zeros(0, np.float64)
        )
        return cls(indptr, indices, data, n_cols)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: NDArray[np.intp]) -> Csr:
        parts = [
            (
                self.indices[self.indptr[i] : self.indptr[i + 1]],
                self.data[self.indptr[i] : self.indptr[i + 1]],
            )
            for i in rows
        ]
        return Csr.from_rows(parts, self.n_cols)


class _Operator:
    """X and X.T products for one Csr, as `np.bincount` per output column: bincount is one
    tight C loop, several times faster than a 2-D `np.add.reduceat` here."""

    def __init__(self, x: Csr) -> None:
        self.x = x
        self.rows = np.repeat(np.arange(x.n_rows), np.diff(x.indptr))

    def dot(self, p: FloatArray) -> FloatArray:
        x = self.x
        out = np.empty((x.n_rows, p.shape[1]))
        for m in range(p.shape[1]):
            out[:, m] = np.bincount(self.rows, x.data * p[x.indices, m], minlength=x.n_rows)
        return out

    def tdot(self, r: FloatArray) -> FloatArray:
        x = self.x
        out = np.empty((x.n_cols, r.shape[1]))
        for m in range(r.shape[1]):
            out[:, m] = np.bincount(x.indices, x.data * r[self.rows, m], minlength=x.n_cols)
        return out


@dataclass(frozen=True)
class RidgeFit:
    weights: FloatArray  # (n_cols, n_outputs)
    intercept: FloatArray  # (n_outputs,)

    def predict(self, x: Csr) -> FloatArray:
        return _Operator(x).dot(self.weights) + self.intercept


def fit_ridge(
    x: Csr,
    y: FloatArray,
    alpha: float,
    *,
    tol: float = 1e-6,
    max_iter: int = 500,
    warm: FloatArray | None = None,
) -> RidgeFit:
    """Minimize, per output m, ||mask_m * (X_c w_m + b_m - y_m)||^2 + alpha ||w_m||^2.

    NaN in `y` marks a missing target; an output with no targets gets zero weights.
    """
    op = _Operator(x)
    mask = np.isfinite(y)
    n_obs = np.maximum(mask.sum(0), 1)
    y0 = np.where(mask, y, 0.0)
    y_mean = y0.sum(0) / n_obs
    x_mean = op.tdot(mask.astype(np.float64)) / n_obs  # (n_cols, n_out)

    def apply(p: FloatArray) -> FloatArray:
        xp: FloatArray = (op.dot(p) - (x_mean * p).sum(0)) * mask
        out: FloatArray = op.tdot(xp) - x_mean * xp.sum(0) + alpha * p
        return out

    resid_y = np.where(mask, y0 - y_mean, 0.0)
    b = op.tdot(resid_y) - x_mean * resid_y.sum(0)
    w = np.zeros_like(b) if warm is None else warm.copy()
    w = _block_cg(apply, b, w, tol, max_iter)
    return RidgeFit(weights=w, intercept=y_mean - (x_mean * w).sum(0))


def _block_cg(
    apply: Callable[[FloatArray], FloatArray],
    b: FloatArray,
    w: FloatArray,
    tol: float,
    max_iter: int,
) -> FloatArray:
    """Independent CG per column, vectorized; columns that converged stop moving."""
    r = b - apply(w)
    p = r.copy()
    rs = (r * r).sum(0)
    stop = (tol * np.linalg.norm(b, axis=0)) ** 2
    for _ in range(max_iter):
        active = rs > stop
        if not active.any():
            break
        ap = apply(p)
        denom = (p * ap).sum(0)
        step = np.where(active & (denom > 0), rs / np.where(denom > 0, denom, 1.0), 0.0)
        w = w + step * p
        r = r - step * ap
        rs_new = (r * r).sum(0)
        p = r + np.where(rs > 0, rs_new / np.where(rs > 0, rs, 1.0), 0.0) * p
        rs = rs_new
    return w
