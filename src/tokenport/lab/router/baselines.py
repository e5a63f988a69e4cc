"""The routers `router eval` compares against, in numpy only.

- random: ignores the prompt; its predicted qualities are uniform noise, so on two models
  it is RouteLLM's random router and with costs it picks at random among the affordable.
- tfidf_ridge: TF-IDF (word 1-2 grams, sublinear tf) + ridge (alpha = 1), one output per
  model: the issue's "simple learned baseline".

Both use the auto router's cost model, so the comparison is about predicting quality.

The TF-IDF is scikit-learn's `TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))`
re-done here with an exact vocabulary (the tests check it against sklearn to 1e-12), and
the ridge is `ridge.fit_ridge`, the auto router's own solver. scikit-learn was a dev-only
package, so with the README's plain install this baseline used to vanish from the report
without a word; it is too small to justify a 40 MB runtime dependency.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router.ridge import Csr, fit_ridge

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# sklearn's default token_pattern: words of two or more word characters
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
RIDGE_ALPHA = 1.0


def random_quality(n: int, n_models: int, seed: int) -> FloatArray:
    return np.random.default_rng(seed).random((n, n_models))


def _ngrams(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class Tfidf:
    """Vocabulary and smoothed idf fitted on training prompts; rows sublinear-tf * idf, L2."""

    def __init__(self, train_texts: Sequence[str]) -> None:
        counts = [Counter(_ngrams(t)) for t in train_texts]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        # Sorted like sklearn's, so column j means the same term in both.
        self.vocabulary = {term: j for j, term in enumerate(sorted(df))}
        n = len(train_texts)
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)])
        self._train = self._rows(counts)

    def _rows(self, counts: Sequence[Counter[str]]) -> Csr:
        rows: list[tuple[IntArray, FloatArray]] = []
        for c in counts:
            known = sorted((self.vocabulary[t], k) for t, k in c.items() if t in self.vocabulary)
            cols = np.array([j for j, _ in known], np.int64)
            tf = np.array([k for _, k in known], np.float64)
            vals = (1.0 + np.log(tf)) * self.idf[cols] if len(cols) else tf
            norm = float(np.sqrt((vals * vals).sum()))
            rows.append((cols, vals / norm if norm > 0 else vals))
        return Csr.from_rows(rows, len(self.vocabulary))

    @property
    def train_matrix(self) -> Csr:
        return self._train

    def transform(self, texts: Sequence[str]) -> Csr:
        return self._rows([Counter(_ngrams(t)) for t in texts])


def tfidf_features(train_texts: Sequence[str], test_texts: Sequence[str]) -> tuple[Csr, Csr]:
    """The baseline's sparse TF-IDF matrices, fitted on the training prompts."""
    tfidf = Tfidf(train_texts)
    return tfidf.train_matrix, tfidf.transform(test_texts)


def tfidf_ridge_quality(
    train_texts: Sequence[str], train_quality: FloatArray, test_texts: Sequence[str]
) -> FloatArray:
    """Predicted quality for the test prompts. NaN in `train_quality` is a missing result:
    each model is fitted on the prompts it has results for, as sklearn's per-model fits were."""
    x_train, x_test = tfidf_features(train_texts, test_texts)
    fit = fit_ridge(x_train, train_quality, RIDGE_ALPHA, tol=1e-8, max_iter=2000)
    return fit.predict(x_test)
