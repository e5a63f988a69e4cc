"""The TF-IDF ridge baseline in numpy: the same numbers as scikit-learn, and present in
`router eval` where scikit-learn is not installed (the README's plain install)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _helpers import require_module, run_cli_without_dev_packages
from tokenport.lab.router.baselines import tfidf_features, tfidf_ridge_quality
from tokenport.lab.router.ridge import Csr

TEXTS = [
    "What is 15% of 240? Show the steps.",
    "Write a Python function that reverses a linked list.",
    "Who wrote Pride and Prejudice, and when?",
    "Solve for x: 3x + 7 = 22",
    "Explain the difference between TCP and UDP.",
    "Janet has 16 eggs; she eats 3 and bakes with 4. How many are left?",
    "Translate 'good morning' into French and German.",
    "ÜBER naïve café: déjà vu, über alles",  # non-ASCII words, as sklearn's (?u) tokenizer
]
TESTS = ["How many eggs are left if she eats 3?", "Explain UDP.", "zzz unseen words only"]


def _dense(x: Csr) -> np.ndarray:
    out = np.zeros((x.n_rows, x.n_cols))
    for i in range(x.n_rows):
        lo, hi = x.indptr[i], x.indptr[i + 1]
        out[i, x.indices[lo:hi]] = x.data[lo:hi]
    return out


def test_tfidf_matches_sklearn_to_the_last_digit() -> None:
    text = require_module("sklearn.feature_extraction.text", "pip install scikit-learn")
    vec = text.TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    want_train = vec.fit_transform(TEXTS).toarray()
    want_test = vec.transform(TESTS).toarray()
    got_train, got_test = tfidf_features(TEXTS, TESTS)
    assert got_train.n_cols == len(vec.vocabulary_)
    np.testing.assert_allclose(_dense(got_train), want_train, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_dense(got_test), want_test, rtol=0, atol=1e-12)


def test_ridge_predictions_match_sklearn_with_missing_results() -> None:
    linear = require_module("sklearn.linear_model", "pip install scikit-learn")
    text = require_module("sklearn.feature_extraction.text", "pip install scikit-learn")
    rng = np.random.default_rng(3)
    quality = rng.random((len(TEXTS), 3))
    quality[[1, 4], 2] = np.nan  # model 2 has no result on two prompts
    got = tfidf_ridge_quality(TEXTS, quality, TESTS)
    vec = text.TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    x_train, x_test = vec.fit_transform(TEXTS), vec.transform(TESTS)
    for m in range(3):
        seen = np.isfinite(quality[:, m])
        ridge = linear.Ridge(alpha=1.0, solver="cholesky").fit(
            x_train[seen].toarray(), quality[seen, m]
        )
        np.testing.assert_allclose(got[:, m], ridge.predict(x_test.toarray()), atol=1e-6)


def test_router_eval_reports_the_tfidf_baseline_without_sklearn(tmp_path: Path) -> None:
    # The file the README's example uses, shipped in the repository (data/routing/).
    shipped = Path(__file__).resolve().parents[3] / "data" / "routing" / "gsm8k.jsonl"
    data = tmp_path / "gsm8k.jsonl"
    data.write_text("".join(shipped.read_text(encoding="utf-8").splitlines(True)[:151]))
    out = run_cli_without_dev_packages(
        ["router", "eval", "--train", str(data), "--json", "--folds", "3"]
    )
    assert out.returncode == 0, out.stderr
    routers = json.loads(out.stdout)["routellm"]["routers"]
    assert set(routers) == {"auto", "prompt_only", "tfidf_ridge", "random"}
    assert 0.0 <= routers["tfidf_ridge"]["apgr"] <= 1.5


def test_plot_dir_without_matplotlib_is_a_clear_error_before_any_work(tmp_path: Path) -> None:
    args = ["router", "eval", "--train", "missing.jsonl", "--plot-dir", "p"]
    out = run_cli_without_dev_packages(args, tmp_path)
    assert out.returncode == 2, out.stderr
    assert 'pip install -e ".[plots]"' in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_training_sets_do_not_break(n: int) -> None:
    q = np.ones((n, 2))
    assert tfidf_ridge_quality(TEXTS[:n], q, TESTS).shape == (3, 2)
