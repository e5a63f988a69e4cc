"""RouteLLM and RouterBench metrics on cases small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tokenport.lab.router import metrics

# 11 prompts; the weak model fails all, the strong one wins only the last two.
WEAK = np.zeros(11)
STRONG = np.array([0.0] * 9 + [1.0, 1.0])


def curve(score: np.ndarray) -> metrics.PairCurve:
    return metrics.routellm_curve(score.astype(float), WEAK, STRONG)


def test_oracle_apgr_is_ten_elevenths() -> None:
    # Scores 0..10 make the 11 quantile edges exactly 0..10: edge k sends 11-k prompts to the
    # strong model, the last edge none. Both wins are always sent: PGR jumps to 1 at 2/11.
    # Area = triangle 0.5 * 2/11 + rectangle 9/11 = 10/11.
    c = curve(np.arange(11))
    assert metrics.apgr(c) == pytest.approx(10 / 11)
    assert c.strong_pct[0] == 0.0
    assert c.strong_pct[-1] == 100.0


def test_reversed_oracle_apgr_is_one_eleventh() -> None:
    # The wins get the lowest scores: PGR is 0 up to 9/11, 0.5 at 10/11, 1 at 11/11.
    c = curve(np.arange(11)[::-1])
    assert metrics.apgr(c) == pytest.approx(1 / 11)


def test_constant_router_apgr_is_half() -> None:
    # All ties: every edge but the last sends everything strong; the curve is one straight
    # line from weak to strong, as RouteLLM's random router is in expectation.
    c = curve(np.zeros(11))
    assert metrics.apgr(c) == pytest.approx(0.5)


def test_random_router_apgr_near_half() -> None:
    rng = np.random.default_rng(0)
    weak = (rng.random(4000) < 0.6).astype(float)
    strong = (rng.random(4000) < 0.8).astype(float)
    c = metrics.routellm_curve(rng.random(4000), weak, strong)
    assert metrics.apgr(c) == pytest.approx(0.5, abs=0.05)


def test_cpt_interpolates_like_routellm() -> None:
    # PGR 0.5 is halfway along the segment from (0 %, 0) to (2/11, 2/11 score).
    c = curve(np.arange(11))
    assert metrics.cpt(c, 0.5) == pytest.approx(100 / 11)
    assert metrics.cpt_first(c, 0.5) == pytest.approx(100 / 11)
    assert metrics.cpt_first(curve(np.zeros(11)), 0.8) == pytest.approx(80.0)


def test_optimal_pair_score_spends_strong_calls_on_gains() -> None:
    assert metrics.optimal_pair_score(WEAK, STRONG, 0.1) == pytest.approx(1 / 11)
    assert metrics.optimal_pair_score(WEAK, STRONG, 1.0) == pytest.approx(2 / 11)


def test_hull_raises_dips_and_drops_a_falling_tail() -> None:
    pts = np.array([[1.0, 0.5], [2.0, 0.6], [3.0, 0.9], [4.0, 0.8]])
    hull = metrics.nondecreasing_hull(pts)
    # (2, 0.6) lies under the chord (1, 0.5)-(3, 0.9): raised to 0.7; (4, 0.8) falls: gone.
    np.testing.assert_allclose(hull, [[1.0, 0.5], [2.0, 0.7], [3.0, 0.9]])


def test_aiq_of_a_known_hull() -> None:
    hull = np.array([[1.0, 0.5], [2.0, 0.7], [3.0, 0.9]])
    # Alone: area 0.6 + 0.8 over max cost 3.
    assert metrics.aiq([hull])[0] == pytest.approx(1.4 / 3)
    # Beside a router reaching cost 4, it is extended flat at 0.9 to 4.
    other = np.array([[1.0, 0.1], [4.0, 0.2]])
    first, second = metrics.aiq([hull, other])
    assert first == pytest.approx(2.3 / 4)
    assert second == pytest.approx(0.45 / 4)


def test_cost_to_match() -> None:
    pts = np.array([[1.0, 0.5], [2.0, 0.8], [3.0, 0.85]])
    assert metrics.cost_to_match(pts, 0.8) == 2.0
    assert metrics.cost_to_match(pts, 0.9) is None
