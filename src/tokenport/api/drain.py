"""Graceful drain: what a worker does between SIGTERM and exit.

    SIGTERM ─> unready: /readyz answers 503 (a load balancer that probes it stops sending)
            ─> after `[drain] unready_s`: uvicorn's own shutdown starts: the listener closes,
               idle keep-alive connections close, in-flight requests and streams go on
            ─> after `[drain] grace_s` more: what still waits on an upstream is cut
               (`gateway.CUT`): a non-streamed request gets 503 `shutting_down`, a stream
               its door's error event and a clean end, and each a ledger record that says so
            ─> the lifespan ends: background records, the ledger's journal, key holds
            ─> the process exits (`tokenport serve` then stops the local model's child)

The handler is put in front of uvicorn's own one when the lifespan starts, and hands the
signal on to it after the unready delay, so uvicorn's shutdown runs unchanged; uvicorn's
hard limit (`timeout_graceful_shutdown`) is set above the grace period in `cli/main.py`, as a
backstop only. A second SIGTERM while draining changes nothing; SIGINT (Ctrl-C) is left to
uvicorn. Signals reach only the main thread: an app served from another thread (tests) has
no drain, and readiness there only follows `begin()`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from tokenport.config import DrainConfig
from tokenport.gateway import CUT

log = logging.getLogger("tokenport.api")
Handler = Callable[[int, FrameType | None], Any] | int | None


class _Tracked:
    __slots__ = ("drain", "task")

    def __init__(self, drain: Drain) -> None:
        self.drain = drain
        self.task: asyncio.Task[Any] | None = None

    def __enter__(self) -> None:
        self.task = asyncio.current_task()
        if self.task is not None:
            self.drain.tasks.add(self.task)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.task is not None:
            self.drain.tasks.discard(self.task)


class Drain:
    def __init__(self, cfg: DrainConfig) -> None:
        self.cfg = cfg
        self.draining = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Handler = None
        self._runner: asyncio.Task[None] | None = None

    def tracked(self) -> _Tracked:
        """`with drain.tracked():` around the part of a request a drain may cut."""
        return _Tracked(self)

    def install(self) -> None:
        """Take SIGTERM in front of uvicorn's handler (from the lifespan, in the loop)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        if self._loop is not None and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)
        if self._runner is not None:
            self._runner.cancel()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.draining or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self.begin, signum)

    def begin(self, signum: int = signal.SIGTERM) -> None:
        if self.draining:
            return
        self.draining = True
        log.warning(
            "SIGTERM: draining (unready now; the listener closes in %g s, then in-flight "
            "requests get %g s)",
            self.cfg.unready_s,
            self.cfg.grace_s,
        )
        self._runner = asyncio.get_running_loop().create_task(self._run(signum))

    async def _run(self, signum: int) -> None:
        await asyncio.sleep(self.cfg.unready_s)
        previous = self._previous
        if callable(previous):
            previous(signum, None)  # uvicorn's handler: its graceful shutdown starts
        await asyncio.sleep(self.cfg.grace_s)
        if self.tasks:
            log.warning("drain: grace over, cutting %d in-flight request(s)", len(self.tasks))
        for task in list(self.tasks):
            task.cancel(CUT)
