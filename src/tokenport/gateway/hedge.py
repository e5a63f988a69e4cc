"""Hedged requests (opt-in): when the first attempt has produced no byte by its route's
observed p95 time to first byte, a second attempt goes to the next route; the first to
answer wins and the other is cancelled.

`hedge_for` says whether (and when) a request is hedged; `hedged` runs its first attempt
for the fallback loop (`gateway/core.py`) through `race` and records how the others
ended: a failure like any failed attempt, and the cancelled loser as a `HedgeCancelled`
attempt whose estimated upstream cost (the prompt it was sent) is the request's hedging
cost, charged with its answer (`records.hedging_cost`). A loser that had already answered
in full is priced from its own usage. The loop records the winner (kind "hedge" when it
was the second).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any, Generic, TypeVar

from tokenport.errors import UpstreamError
from tokenport.gateway.records import failed_attempt, hedge_lost
from tokenport.gateway.retry import RetryPolicy
from tokenport.providers.base import Provider
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import Attempt, ChatRequest, Route

T = TypeVar("T")


@dataclass(slots=True)
class Hedge:
    """A request's hedge: the second attempt starts `after_s` into the first."""

    after_s: float
    prompt_tokens: Callable[[], int]  # an estimate, asked only when a loser is priced


@dataclass(slots=True)
class Outcome(Generic[T]):
    index: int  # 0: the first attempt, 1: the hedge
    t0: float
    result: T | None = None
    error: UpstreamError | None = None  # None with no result: cancelled, it lost


def hedge_for(
    request: ChatRequest,
    routes: list[Route],
    health: Health,
    policy: RetryPolicy,
    counter: TokenCounter,
) -> Hedge | None:
    """A hedge for the request's first attempt, when it asked for one (or its model is
    hedged), there is a second route, and the first has a p95 time to first byte."""
    prefs = request.provider
    wants = prefs.hedge if prefs is not None else None
    if wants is None and policy.hedge_models:
        wants = any(fnmatch(request.model, glob) for glob in policy.hedge_models)
    if not wants or len(routes) < 2:
        return None
    p95 = health.ttft_p95_ms(routes[0].model_id)
    if p95 is None:
        return None
    after = max(policy.hedge_min_ms, p95) / 1000.0
    return Hedge(after, lambda: counter.rough_messages(request.messages))


async def hedged(
    providers: Mapping[str, Provider],
    health: Health,
    routes: list[Route],
    start: Callable[[Provider, Route, float], Awaitable[T]],
    attempts: list[Attempt],
    timeout: float,
    hedge: Hedge,
) -> tuple[int, T]:
    """The first attempt, raced by the second route after `hedge.after_s`: the winner's
    index and answer. Other outcomes are recorded here; when both fail, the first
    attempt's error goes on for the fallback loop to record and retry."""

    def launch(j: int) -> Awaitable[T]:
        return start(providers[routes[j].provider], routes[j], timeout)

    winner, others = await race(launch, hedge.after_s)
    first_error: UpstreamError | None = None
    for o in others:
        route = routes[o.index]
        kind = "hedge" if o.index else None
        if o.error is not None:
            if o.index == 0 and winner is None:
                first_error = o.error  # recorded by the loop, which retries
                continue
            attempts.append(failed_attempt(route, o.t0, o.error, kind))
            health.record_failure(route.provider, route.model_id, o.error.retry_after)
            continue
        await close_result(o.result)
        attempts.append(hedge_lost(route, o.t0, kind, hedge.prompt_tokens(), o.result))
    if winner is None:
        assert first_error is not None
        raise first_error
    assert winner.result is not None
    return winner.index, winner.result


async def race(
    launch: Callable[[int], Awaitable[T]], after_s: float
) -> tuple[Outcome[T] | None, list[Outcome[T]]]:
    """(the winner or None, every other attempt's outcome). Errors other than an
    upstream's propagate; so does cancellation, after both attempts are cancelled."""
    tasks: dict[asyncio.Task[T], Outcome[T]] = {}

    def go(i: int) -> None:
        task: asyncio.Task[T] = asyncio.ensure_future(launch(i))
        tasks[task] = Outcome(i, time.perf_counter())

    go(0)
    winner: Outcome[T] | None = None
    others: list[Outcome[T]] = []
    try:
        done, _ = await asyncio.wait(tasks, timeout=after_s)
        if not done:
            go(1)
        while tasks and winner is None:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: tasks[t].index):
                outcome = tasks.pop(task)
                exc = task.exception()
                if exc is None:
                    outcome.result = task.result()
                    if winner is None:
                        winner = outcome
                        continue
                elif isinstance(exc, UpstreamError):
                    outcome.error = exc
                else:
                    raise exc
                others.append(outcome)
    finally:
        for task, outcome in tasks.items():
            task.cancel()
            others.append(outcome)
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    return winner, others


async def close_result(result: Any) -> None:
    """A stream a losing attempt had opened (its first chunk and the rest): closed."""
    if isinstance(result, tuple) and len(result) == 2:
        rest = result[1]
        if isinstance(rest, AsyncIterator) and hasattr(rest, "aclose"):
            with contextlib.suppress(Exception):
                await rest.aclose()
