"""`Ledger` end to end on SQLite and PostgreSQL: durability, replay, concurrency, outages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from _ledger_fixtures import FlakyStore, count, full_record, pg_url, query, store_url
from tokenport.errors import ServiceUnavailable
from tokenport.lab import synth
from tokenport.ledger import Ledger, LedgerRecord, open_store
from tokenport.ledger.journal import list_segments, segment_path

__all__ = ["pg_url", "store_url"]
pytestmark = pytest.mark.timeout(60)

END = 1_760_000_000.0


def total_requests(url: str) -> int:
    s = open_store(url)
    try:
        return s.usage_report(0, 2e9)[0].requests
    finally:
        s.close()


async def eventually(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_get_finds_a_record_before_the_database_has_it(
    store_url: str, tmp_path: Path
) -> None:
    ledger = Ledger(store_url, tmp_path / "j", batch_max=10_000, flush_interval=30)
    await ledger.start()
    rec = full_record()
    await ledger.append(rec)
    assert count(store_url) == 0  # still batching
    assert await ledger.get(rec.id) == rec
    assert ledger.backlog() == 1
    await ledger.stop()
    assert count(store_url) == 1
    assert open_store(store_url).get(rec.id) == rec
    assert list_segments(tmp_path / "j") == []  # a clean stop leaves no journal behind


async def test_concurrent_appends_all_land(store_url: str, tmp_path: Path) -> None:
    recs = synth.records(2000, seed=11, end=END)
    ledger = Ledger(store_url, tmp_path / "j")
    await ledger.start()
    await asyncio.gather(*(ledger.append(r) for r in recs))
    stats = ledger.stats()
    assert stats.appended == 2000
    assert stats.fsyncs < 200  # group commit
    await ledger.drain(timeout=20)
    assert await ledger.get(recs[1234].id) == recs[1234]  # now from the database
    report = await ledger.usage_report(0, 2e9)
    assert report[0].requests == 2000
    await ledger.stop()
    assert count(store_url) == 2000


async def test_crash_before_any_commit_replays_everything(store_url: str, tmp_path: Path) -> None:
    recs = synth.records(300, seed=12, end=END)
    first = Ledger(store_url, tmp_path / "j", batch_max=10_000, flush_interval=30)
    await first.start()
    await asyncio.gather(*(first.append(r) for r in recs))
    await first.abort()  # no drain, no clean stop
    assert count(store_url) == 0

    second = Ledger(store_url, tmp_path / "j")
    await second.start()  # replays before returning
    assert count(store_url) == 300
    assert second.stats().inserted == 300
    await second.stop()
    assert total_requests(store_url) == 300
    assert open_store(store_url).get(recs[7].id) == recs[7]


async def test_replay_of_committed_records_does_not_double_count(
    store_url: str, tmp_path: Path
) -> None:
    recs = synth.records(250, seed=13, end=END)
    first = Ledger(store_url, tmp_path / "j")
    await first.start()
    await asyncio.gather(*(first.append(r) for r in recs))
    await first.drain(timeout=10)
    await first.abort()  # committed, but the journal still holds them
    assert list_segments(tmp_path / "j")

    second = Ledger(store_url, tmp_path / "j")
    await second.start()
    stats = second.stats()
    assert (stats.committed, stats.inserted) == (250, 0)
    await second.stop()
    assert count(store_url) == 250 == total_requests(store_url)


async def test_torn_journal_tail_is_ignored_on_replay(store_url: str, tmp_path: Path) -> None:
    recs = synth.records(50, seed=14, end=END)
    first = Ledger(store_url, tmp_path / "j", batch_max=10_000, flush_interval=30)
    await first.start()
    await asyncio.gather(*(first.append(r) for r in recs))
    await first.abort()
    last = segment_path(tmp_path / "j", max(list_segments(tmp_path / "j")))
    with last.open("ab") as f:
        f.write(b"\x99\x00\x00\x00\x12\x34")  # a frame header cut short by the crash

    second = Ledger(store_url, tmp_path / "j")
    await second.start()
    await second.stop()
    assert count(store_url) == 50


async def test_database_outage_keeps_records_and_catches_up(store_url: str, tmp_path: Path) -> None:
    flaky: list[FlakyStore] = []

    def opener(url: str) -> FlakyStore:
        flaky.append(FlakyStore(open_store(url)))
        return flaky[-1]

    recs = synth.records(400, seed=15, end=END)
    ledger = Ledger(store_url, tmp_path / "j", flush_interval=0.01, opener=opener)
    await ledger.start()
    flaky[0].down = True
    await asyncio.gather(*(ledger.append(r) for r in recs[:200]))  # succeeds: the journal has it
    await eventually(lambda: flaky[0].failures >= 2)
    assert ledger.backlog() == 200
    assert ledger.stats().last_db_error is not None
    assert await ledger.get(recs[3].id) == recs[3]  # served from memory while the DB is down
    assert count(store_url) == 0

    flaky[0].down = False
    await asyncio.gather(*(ledger.append(r) for r in recs[200:]))
    await ledger.drain(timeout=15)
    assert ledger.stats().last_db_error is None
    await ledger.stop()
    assert count(store_url) == 400 == total_requests(store_url)


async def test_outage_across_a_restart(store_url: str, tmp_path: Path) -> None:
    stores: list[FlakyStore] = []

    def down(url: str) -> FlakyStore:
        stores.append(FlakyStore(open_store(url)))
        stores[-1].down = True
        return stores[-1]

    recs = synth.records(120, seed=16, end=END)
    first = Ledger(store_url, tmp_path / "j", flush_interval=0.01, opener=down)
    await first.start()
    await asyncio.gather(*(first.append(r) for r in recs))
    await first.stop(timeout=0.3)  # the database never came back: records stay in the journal
    assert first.backlog() == 120 and count(store_url) == 0

    second = Ledger(store_url, tmp_path / "j")
    await second.start()
    await second.stop()
    assert count(store_url) == 120 == total_requests(store_url)


async def test_a_record_the_database_refuses_is_kept_aside(store_url: str, tmp_path: Path) -> None:
    good = synth.records(20, seed=17, end=END)
    bad = LedgerRecord(
        id="01JBAD0000000000000000000X",
        ts=END,
        model_requested="m",
        status="ok",
        prompt_tokens=2**63,
    )  # too big for any BIGINT column
    ledger = Ledger(store_url, tmp_path / "j")
    await ledger.start()
    await asyncio.gather(*(ledger.append(r) for r in [*good[:10], bad, *good[10:]]))
    await ledger.drain(timeout=10)
    stats = ledger.stats()
    assert (stats.inserted, stats.rejected) == (20, 1)
    await ledger.stop()
    assert count(store_url) == 20
    lines = (tmp_path / "j" / "rejected.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "msgpack_b64" in lines[0]


async def test_postgres_connection_killed_mid_run(pg_url: str, tmp_path: Path) -> None:
    store_url = pg_url
    recs = synth.records(200, seed=18, end=END)
    ledger = Ledger(store_url, tmp_path / "j", flush_interval=0.01)
    await ledger.start()
    await asyncio.gather(*(ledger.append(r) for r in recs[:100]))
    await ledger.drain(timeout=10)
    pid = ledger._store._writer.backend_pid()  # type: ignore[union-attr]
    query(store_url, "SELECT pg_terminate_backend(?)", (pid,))
    await asyncio.gather(*(ledger.append(r) for r in recs[100:]))
    await ledger.drain(timeout=15)
    assert ledger.stats().db_failures >= 1  # it noticed, reconnected, and caught up
    await ledger.stop()
    assert count(store_url) == 200 == total_requests(store_url)


async def test_start_fails_fast_when_the_database_is_down(tmp_path: Path) -> None:
    ledger = Ledger("postgresql://postgres@127.0.0.1:1/test", tmp_path / "j")
    t0 = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="not reachable"):
        await ledger.start()
    assert time.perf_counter() - t0 < 10
    await ledger.stop()
    with pytest.raises(ServiceUnavailable):
        await ledger.append(full_record())


async def test_orphaned_sibling_journal_is_adopted(store_url: str, tmp_path: Path) -> None:
    # The gateway may use one journal directory per worker pid; a crashed worker's journal
    # must still reach the database when any worker starts next.
    recs = synth.records(80, seed=19, end=END)
    dead = Ledger(store_url, tmp_path / "w111", batch_max=10_000, flush_interval=30)
    await dead.start()
    await asyncio.gather(*(dead.append(r) for r in recs))
    await dead.abort()
    alive = Ledger(store_url, tmp_path / "w222", adopt_orphans=False)
    await alive.start()  # a live sibling is never touched

    nxt = Ledger(store_url, tmp_path / "w333")
    await nxt.start()
    assert count(store_url) == 80
    assert not (tmp_path / "w111").exists()
    assert (tmp_path / "w222").exists()
    await nxt.stop()
    await alive.stop()
    assert total_requests(store_url) == 80
