"""A book of definitions (budgets, guardrails) kept in memory and reloaded off the path.

Each gateway process loads the book once before the first request that needs it, then
every `refresh_s` in a background task, never on a request's path, and at once after a
change through its own API (`reload`). If the database is down the last book stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from tokenport.errors import ServiceUnavailable

log = logging.getLogger("tokenport.security")
B = TypeVar("B")


class BookCache(Generic[B]):
    def __init__(self, load: Callable[[], B], empty: B, refresh_s: float, what: str) -> None:
        self._load = load
        self.book = empty
        self.refresh_s = refresh_s
        self.what = what
        self.loaded = False  # admission loads once inline before it trusts an empty book
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep(), name=self.what)

    async def _keep(self) -> None:
        while True:
            try:
                await self.reload()
            except Exception:  # never let the refresh die: the book would go stale
                log.exception("%s reload failed; retrying", self.what)
            await asyncio.sleep(self.refresh_s)

    async def reload(self) -> None:
        try:
            self.book = await asyncio.to_thread(self._load)
            self.loaded = True
        except ServiceUnavailable as exc:  # keep the last book until it is back
            log.warning("%s not reloaded: %s", self.what, exc)

    async def ready(self) -> B:
        if not self.loaded:
            await self.reload()
        return self.book

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
