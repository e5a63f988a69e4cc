"""Hedged requests (opt-in): when the first attempt has produced no byte by its route's
observed p95 time to first byte, a second attempt goes to the next route; the first to
answer wins and the other is cancelled.

`race` runs the two attempts and says how each ended; the fallback loop
(`Gateway._hedged`, `gateway/core.py`) records them: the winner as the request's answering
attempt (kind "hedge" when it was the second), a failure like any failed attempt, and the
cancelled loser as a `HedgeCancelled` attempt whose estimated upstream cost (the prompt it
was sent) is the request's hedging cost. A loser that had already answered in full is
priced from its own usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tokenport.errors import UpstreamError

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
