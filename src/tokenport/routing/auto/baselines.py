"""The routers `router eval` compares against; eval-only, so sklearn may be imported here.

- random: ignores the prompt; its predicted qualities are uniform noise, so on two models
  it is RouteLLM's random router and with costs it picks at random among the affordable.
- tfidf_ridge: sklearn TfidfVectorizer (word 1-2 grams, sublinear tf) + Ridge(alpha=1),
  one output per model: the issue's "simple learned baseline".
Both use the auto router's cost model, so the comparison is about predicting quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def random_quality(n: int, n_models: int, seed: int) -> FloatArray:
    return np.random.default_rng(seed).random((n, n_models))


def tfidf_features(train_texts: Sequence[str], test_texts: Sequence[str]) -> tuple[Any, Any]:
    """The baseline's sparse TF-IDF matrices (word 1-2 grams, sublinear tf), fitted on the
    training prompts. Needs scikit-learn."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    return vec.fit_transform(list(train_texts)), vec.transform(list(test_texts))


def tfidf_ridge_quality(
    train_texts: Sequence[str], train_quality: FloatArray, test_texts: Sequence[str]
) -> FloatArray | None:
    """Predicted quality for the test prompts, or None when scikit-learn is not installed."""
    try:
        from sklearn.linear_model import Ridge
    except ImportError:
        return None
    x_train, x_test = tfidf_features(train_texts, test_texts)
    out = np.empty((len(test_texts), train_quality.shape[1]))
    for m in range(train_quality.shape[1]):
        seen = np.isfinite(train_quality[:, m])
        if not seen.any():
            out[:, m] = 0.0
            continue
        model = Ridge(alpha=1.0).fit(x_train[seen], train_quality[seen, m])
        out[:, m] = model.predict(x_test)
    return out
