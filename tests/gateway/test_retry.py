"""The retry policy on its own: which route next, the backoff, the attempt cap, the budget."""

from __future__ import annotations

import time

import pytest

from tokenport.errors import (
    UpstreamAuthError,
    UpstreamConnectError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.gateway.retry import RetryBudget, RetryPlan, RetryPolicy, transient
from tokenport.routing.health import Health
from tokenport.values import Pricing, Route


def routes(*names: str) -> list[Route]:
    return [Route(n, "m", f"{n}/m", Pricing()) for n in names]


def plan(*names: str, budget: RetryBudget | None = None, **policy: float) -> RetryPlan:
    p = RetryPolicy(**policy)  # type: ignore[arg-type]
    spare = budget or RetryBudget(ratio=1.0, burst=100.0, balance=100.0)
    return RetryPlan(p, spare, routes(*names), Health(5, 30.0), time.perf_counter() + 60)


def test_transient_failures_are_the_ones_a_moment_may_cure() -> None:
    assert transient(UpstreamTimeout("a", "slow"))
    assert transient(UpstreamConnectError("a", "refused"))
    assert transient(UpstreamRateLimited("a", "429", 429))
    for status in (500, 502, 503, 504, 529):
        assert transient(UpstreamServerError("a", "5xx", status))
    assert not transient(UpstreamServerError("a", "conflict", 409))
    assert not transient(UpstreamAuthError("a", "bad key", 401))


def test_other_routes_first_then_the_same_route_after_a_backoff() -> None:
    p = plan("a", "b", backoff_base_s=0.2, max_attempts=4)
    first = p.next(0, UpstreamServerError("a", "boom", 500))
    assert first is not None and (first.index, first.kind, first.wait) == (1, "fallback", 0.0)
    assert first.reason == "upstream_server_error"
    second = p.next(1, UpstreamRateLimited("b", "slow down", 429))
    assert second is not None and second.index == 0 and second.kind == "fallback"
    assert 0.0 <= second.wait <= 0.2  # a's backoff, jittered
    third = p.next(0, UpstreamTimeout("a", "slow"))
    assert third is not None and third.index == 1
    assert p.next(1, UpstreamTimeout("b", "slow")) is None and p.stopped == "attempts"


def test_a_lone_route_is_retried_with_growing_jittered_backoff() -> None:
    p = plan("a", backoff_base_s=0.1, backoff_max_s=0.25, max_attempts=6)
    waits = []
    for _ in range(5):
        step = p.next(0, UpstreamServerError("a", "boom", 503))
        assert step is not None and step.kind == "retry"
        waits.append(step.wait)
    caps = [0.1, 0.2, 0.25, 0.25, 0.25]
    assert all(0.0 <= w <= c + 0.01 for w, c in zip(waits, caps, strict=True)), waits
    assert p.next(0, UpstreamServerError("a", "boom", 503)) is None


def test_retry_after_is_honoured_and_a_long_one_takes_the_route_out() -> None:
    p = plan("a", max_retry_after_s=5.0)
    step = p.next(0, UpstreamRateLimited("a", "429", 429, retry_after=1.5))
    assert step is not None and step.wait == pytest.approx(1.5, abs=0.05)
    p = plan("a", max_retry_after_s=5.0)
    assert p.next(0, UpstreamRateLimited("a", "429", 429, retry_after=60)) is None
    assert p.stopped == "routes"


def test_a_permanent_failure_is_not_retried_on_the_same_route() -> None:
    p = plan("a", "b")
    step = p.next(0, UpstreamAuthError("a", "bad key", 401))
    assert step is not None and step.index == 1
    assert p.next(1, UpstreamAuthError("b", "bad key", 401)) is None and p.stopped == "routes"


def test_no_retry_past_the_deadline() -> None:
    p = plan("a", backoff_base_s=5.0, backoff_max_s=5.0)
    p.deadline = time.perf_counter() + 0.001
    # Any wait at all would pass the deadline (the jitter may draw ~0: then time has).
    time.sleep(0.002)
    assert p.next(0, UpstreamServerError("a", "boom", 500)) is None and p.stopped == "deadline"


def test_the_healthiest_route_goes_first() -> None:
    p = plan("a", "b", "c")
    for _ in range(3):
        p.health.record_failure("b", "b/m", None)
    step = p.next(0, UpstreamServerError("a", "boom", 500))
    assert step is not None and step.index == 2  # c: never failed; b: three failures
    p = plan("a", "b", "c")
    for _ in range(5):  # b's breaker opens
        p.health.record_failure("b", "b/m", None)
    p.next(0, UpstreamServerError("a", "boom", 500))
    step = p.next(2, UpstreamServerError("c", "boom", 500))
    assert step is not None and step.index in (0, 2)  # b, whose breaker is open, goes last
    p.ready[2] = float("inf")
    step = p.next(0, UpstreamAuthError("a", "bad key", 401))
    assert step is not None and step.index == 1


def test_the_budget_holds_retries_to_its_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.2, min_per_s=0.0, burst=5.0)
    granted = 0
    for _ in range(1000):
        budget.requests += 1
        granted += budget.spend()  # every request fails and asks for a retry
    assert 195 <= granted <= 200  # 20% of 1000 requests
    assert budget.denied == 1000 - granted


def test_the_budget_floor_lets_quiet_traffic_retry() -> None:
    budget = RetryBudget(ratio=0.0, min_per_s=1000.0, burst=2.0)
    time.sleep(0.01)
    assert budget.spend() and budget.spend() and not budget.spend()  # burst: 2 saved at most


def test_a_spent_budget_stops_the_plan() -> None:
    p = plan("a", "b", budget=RetryBudget(ratio=0.0, min_per_s=0.0, balance=0.0))
    assert p.next(0, UpstreamServerError("a", "boom", 500)) is None and p.stopped == "budget"
