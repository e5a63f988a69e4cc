"""Retries: after a failed attempt, which route next, after how long, and whether the
process-wide budget allows another upstream call at all.

    RetryPolicy   the settings ([resilience] in the config): attempt cap, backoff, budget
    RetryBudget   a token bucket shared by every request of the process: each request
                  earns `budget_ratio` of a token, each retry spends a whole one, so
                  retries add at most that share of the upstream load (plus a small floor
                  for quiet times), however many routes fail at once
    RetryPlan     one request's state, made only at its first failure (the no-failure
                  path pays one counter increment): per route how often it was tried,
                  when it may be tried again, and whether it is out for this request

The fallback loop (`gateway/core.py`) asks `RetryPlan.next` after each retryable failure
and sleeps the step's `wait` before the next attempt. Routes are taken healthiest first:
closed breakers before open ones, then fewest tries in this request, then the longest
since it failed, then fewest consecutive failures in the process's breakers, then the
router's order. The same route is tried again only after a transient failure (connect
error, timeout before the first byte, 429, 500-504 and 529), after exponential backoff
with full jitter, or the upstream's `Retry-After` when that is longer.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from tokenport.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.routing.health import Health
from tokenport.values import Route

_TRANSIENT_STATUS = frozenset({500, 501, 502, 503, 504, 529})
_OUT = float("inf")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5  # upstream calls per request, the first included
    backoff_base_s: float = 0.05  # the first same-route backoff is up to this, then doubles
    backoff_max_s: float = 2.0
    max_retry_after_s: float = 10.0  # a longer Retry-After takes the route out instead
    budget_ratio: float = 0.2  # retries may add this share to the upstream calls
    budget_min_per_s: float = 1.0  # retries always allowed at this rate (quiet traffic)
    budget_burst: float = 20.0  # the most retry tokens saved up
    resume: bool = True  # continue a stream cut mid-answer (`gateway/resume.py`)
    # Hedged requests (`gateway/hedge.py`), off by default: these models (globs), or any
    # request that asks with `provider.hedge = true`; never sooner than hedge_min_ms.
    hedge_models: tuple[str, ...] = ()
    hedge_min_ms: float = 20.0


def transient(exc: UpstreamError) -> bool:
    """A failure the same route may well not repeat a moment later."""
    if isinstance(exc, UpstreamTimeout | UpstreamConnectError | UpstreamRateLimited):
        return True
    if isinstance(exc, UpstreamServerError):
        return exc.http_status is None or exc.http_status in _TRANSIENT_STATUS
    return False


@dataclass(slots=True)
class RetryBudget:
    """A token bucket: O(1) per request and per retry, no per-request history kept.

    Over any window, retries <= ratio x requests + min_per_s x seconds + burst. A request
    only counts itself (`requests += 1`); the tokens it earned are added when a retry asks.
    """

    ratio: float = 0.2
    min_per_s: float = 1.0
    burst: float = 20.0
    balance: float = 0.0
    requests: int = 0  # every request, counted by the fallback loop
    counted: int = 0  # the requests already turned into tokens
    last: float = field(default_factory=time.monotonic)
    spent: int = 0
    denied: int = 0

    def spend(self) -> bool:
        now = time.monotonic()
        earned = (self.requests - self.counted) * self.ratio + (now - self.last) * self.min_per_s
        self.balance = min(self.burst, self.balance + earned)
        self.counted, self.last = self.requests, now
        if self.balance >= 1.0:
            self.balance -= 1.0
            self.spent += 1
            return True
        self.denied += 1
        return False


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # into the request's routes
    wait: float  # seconds to sleep first
    kind: str  # "retry" (the same route) or "fallback" (another)
    reason: str  # the failure's error code


@dataclass(slots=True)
class RetryPlan:
    policy: RetryPolicy
    budget: RetryBudget
    routes: list[Route]
    health: Health
    deadline: float  # time.perf_counter() seconds
    tries: list[int] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)  # perf_counter time; inf: out
    failed_at: list[float] = field(default_factory=list)  # the last failure: oldest first
    made: int = 1  # attempts so far, the first included
    stopped: str | None = None  # why `next` said no more: attempts, budget, deadline, routes

    def __post_init__(self) -> None:
        self.tries = [0] * len(self.routes)
        self.ready = [0.0] * len(self.routes)
        self.failed_at = [0.0] * len(self.routes)

    def failed(self, i: int, exc: UpstreamError, now: float) -> None:
        """Route `i` failed: when may it be tried again, if at all."""
        self.tries[i] += 1
        self.failed_at[i] = now
        if not transient(exc):
            self.ready[i] = _OUT
            return
        p = self.policy
        cap = min(p.backoff_max_s, p.backoff_base_s * 2 ** (self.tries[i] - 1))
        backoff = random.uniform(0.0, cap)  # full jitter
        after = exc.retry_after or 0.0
        self.ready[i] = _OUT if after > p.max_retry_after_s else now + max(backoff, after)

    def next(self, i: int, exc: UpstreamError, *, spend: bool = True) -> Step | None:
        """After route `i` failed with `exc`: the next attempt, or None (see `stopped`)."""
        now = time.perf_counter()
        self.failed(i, exc, now)
        if self.made >= self.policy.max_attempts:
            return self._stop("attempts")
        j = self._pick()
        if j is None:
            return self._stop("routes")
        wait = max(0.0, self.ready[j] - now)
        if now + wait >= self.deadline:
            return self._stop("deadline")
        if spend and not self.budget.spend():
            return self._stop("budget")
        self.made += 1
        return Step(j, wait, "retry" if j == i else "fallback", exc.code)

    def _pick(self) -> int | None:
        # Healthiest first: a route whose breaker is open (other requests' failures) goes
        # last rather than away, as in the router: better late than failed.
        best: tuple[bool, int, float, int, int] | None = None
        for j, route in enumerate(self.routes):
            ready = self.ready[j]
            if ready == _OUT:
                continue
            provider = route.provider
            key = (
                not self.health.available(provider),
                self.tries[j],
                self.failed_at[j],
                self.health.failures(provider),
                j,
            )
            if best is None or key < best:
                best = key
        return None if best is None else best[4]

    def _stop(self, why: str) -> Step | None:
        self.stopped = why
        return None
