"""The holder keeper: a database outage long enough for other replicas to take this process
for dead is logged as a warning once, and so is the recovery; shorter blips stay quiet."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, cast

import pytest

from tokenport.errors import ServiceUnavailable
from tokenport.security.admission import Admission


class FlakyKeys:
    """Heartbeats fail `fail` times in a row, then succeed; `done` is set at beat `until`."""

    def __init__(self, fail: int, until: int) -> None:
        self.fail = fail
        self.until = until
        self.beats = 0
        self.done = threading.Event()  # heartbeat runs in a worker thread

    def heartbeat(self) -> None:
        self.beats += 1
        if self.beats >= self.until:
            self.done.set()
        if self.beats <= self.fail:
            raise ServiceUnavailable("database unreachable")

    def sweep(self, ttl_s: float) -> int:
        return 0


async def _run_keeper(keys: FlakyKeys) -> None:
    adm = Admission(keys=cast(Any, keys), limiter=cast(Any, None), counter=cast(Any, None))
    adm.hold_ttl_s = 0.03  # a beat every 5 ms
    adm.start()
    try:
        assert await asyncio.to_thread(keys.done.wait, 10.0)
    finally:
        assert adm._keeper is not None
        adm._keeper.cancel()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_long_outage_warns_once_and_recovery_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenport")
    await _run_keeper(FlakyKeys(fail=8, until=10))
    got = _warnings(caplog)
    assert len(got) == 2, got
    assert "missed 3 times in a row" in got[0]
    assert "restored after 8 missed beats" in got[1]


async def test_short_blip_stays_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenport")
    await _run_keeper(FlakyKeys(fail=2, until=5))
    assert _warnings(caplog) == []
    assert sum("heartbeat skipped" in r.getMessage() for r in caplog.records) == 2
