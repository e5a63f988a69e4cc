"""decide(): floors, price caps, trade-offs, and the artifact round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _auto_synth import dataset
from tokenport.lab.router import TrainConfig, train_router
from tokenport.routing.auto import (
    ArtifactError,
    AutoRouter,
    NoCandidateError,
    Pool,
    RouterArtifact,
    choose,
)

QUALITY = np.array([0.55, 0.80, 0.95])
COST = np.array([0.001, 0.004, 0.02])
PROMPTS = ["a poem about the moon", "solve 3 x^2 + 3x = 7", "a haiku about rain please", ""]


@pytest.fixture(scope="module")
def router() -> AutoRouter:
    return AutoRouter(train_router(dataset(), TrainConfig(alpha=0.3)))


def test_floor_picks_the_cheapest_good_enough() -> None:
    assert choose(QUALITY, COST, 0.0, quality_floor=0.7)[0] == 1
    assert choose(QUALITY, COST, 0.0, quality_floor=0.5)[0] == 0


def test_unreachable_floor_falls_back_to_best_and_says_so() -> None:
    pick, why = choose(QUALITY, COST, 0.0, quality_floor=0.99)
    assert pick == 2
    assert "none predicted" in why


def test_max_price_is_a_hard_cap() -> None:
    assert choose(QUALITY, COST, 0.0, max_price=0.005)[0] == 1
    assert choose(QUALITY, COST, 0.0, quality_floor=0.9, max_price=0.005)[0] == 1
    with pytest.raises(NoCandidateError):
        choose(QUALITY, COST, 0.0, max_price=0.0001)


def test_tradeoff_moves_from_best_to_cheapest() -> None:
    assert choose(QUALITY, COST, 0.0)[0] == 2
    assert choose(QUALITY, COST, 1e6)[0] == 0


def test_router_sends_algebra_up_and_poems_down(router: AutoRouter) -> None:
    pool = Pool(name="p", tradeoff=50.0)
    assert router.decide("a poem about the moon", pool).model == "cheap"
    assert router.decide("solve 5 x^2 + 3x = 7", pool).model == "big"


def test_decision_explains_itself(router: AutoRouter) -> None:
    d = router.decide("a poem about the moon", Pool(name="p"), quality_floor=0.8)
    assert set(d.scores) == {"cheap", "mid", "big"}
    assert d.predicted_quality >= 0.8
    assert d.expected_cost == pytest.approx(d.costs[d.model])
    assert d.reason.startswith("p: cheapest predicted >= 0.8")
    assert d.router_version == router.artifact.meta.router_version


def test_decide_respects_floor_and_price(router: AutoRouter) -> None:
    pool = Pool(name="p")
    for prompt in PROMPTS:
        d = router.decide(prompt, pool, max_price=0.001)
        assert d.expected_cost <= 0.001
        floor = router.decide(prompt, pool, quality_floor=0.6)
        ok = [m for m, q in floor.scores.items() if q >= 0.6]
        if ok:
            assert floor.model == min(ok, key=lambda m: floor.costs[m])


def test_pool_prices_and_subsets(router: AutoRouter) -> None:
    pool = Pool(name="p", models=("mid", "big"), prices={"big": 0.0})
    d = router.decide("a poem about the moon", pool, max_price=0.0)
    assert d.model == "big"
    with pytest.raises(ArtifactError):
        router.decide("x", Pool(name="bad", models=("gpt-9",)))


def test_round_trip_gives_identical_decisions(router: AutoRouter, tmp_path: Path) -> None:
    path = router.artifact.save(tmp_path / "router.npz")
    loaded = AutoRouter.load(path)
    assert loaded.artifact.meta == router.artifact.meta
    for prompt in PROMPTS:
        for kw in ({}, {"quality_floor": 0.7}, {"max_price": 0.001}):
            pool = Pool(name="p", tradeoff=30.0)
            assert loaded.decide(prompt, pool, **kw) == router.decide(prompt, pool, **kw)  # type: ignore[arg-type]


def test_corrupt_or_foreign_artifacts_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError):
        RouterArtifact.load(bad)
    np.savez(tmp_path / "nometa.npz", weights=np.zeros(1))
    with pytest.raises(ArtifactError, match="no meta"):
        RouterArtifact.load(tmp_path / "nometa.npz")
