"""SIGKILL a process mid-stream of appends: every acknowledged record must reach the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from _ledger_fixtures import query, store_url
from tokenport.ledger import Ledger

__all__ = ["store_url"]
pytestmark = pytest.mark.timeout(60)

SRC = Path(__file__).resolve().parents[2] / "src"
CHILD = """
import asyncio, sys, time
from pathlib import Path
from ulid import ULID
from tokenport.ledger import Ledger, LedgerRecord

async def worker(ledger):
    while True:
        rid = str(ULID())
        rec = LedgerRecord(id=rid, ts=time.time(), model_requested="m", status="ok",
                           prompt_tokens=3, completion_tokens=5)
        await ledger.append(rec)
        sys.stdout.write(rid + "\\n")  # acknowledged: durable from here on
        sys.stdout.flush()

async def main():
    ledger = Ledger(sys.argv[1], Path(sys.argv[2]))
    await ledger.start()
    await asyncio.gather(*(worker(ledger) for _ in range(32)))

asyncio.run(main())
"""


def run_and_kill(store_url: str, journal: Path, acks: int) -> list[str]:
    """Run the child until it has acknowledged `acks` records, SIGKILL it, return every ack."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, str(journal)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        for line in child.stdout:
            acked.append(line.decode().strip())
            if len(acked) >= acks:
                break
        child.send_signal(signal.SIGKILL)
        acked += [line.decode().strip() for line in child.stdout]  # printed before the kill
    finally:
        child.kill()
        child.wait()
    return [a for a in acked if len(a) == 26]


async def test_sigkill_loses_no_acknowledged_record(store_url: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    acked = run_and_kill(store_url, journal, 3000)
    assert len(acked) >= 3000

    ledger = Ledger(store_url, journal)
    await ledger.start()
    await ledger.drain(timeout=20)
    await ledger.stop()
    stored = {row[0] for row in query(store_url, "SELECT id FROM requests")}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged records lost"
    # Replays counted nothing twice.
    rolled = query(store_url, "SELECT SUM(requests), SUM(prompt_tokens) FROM rollup_hourly")[0]
    assert (int(rolled[0]), int(rolled[1])) == (len(stored), 3 * len(stored))
