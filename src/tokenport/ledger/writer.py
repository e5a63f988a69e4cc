"""`Ledger`: durable on `append`, in the database soon after, never lost in between.

    append(record) ──> journal buffer ──(group fsync)──> journal segment ──> append returns
                                                              │
                         DB thread: read batch from journal, insert_batch (idempotent)
                                                              │
                           commit ──> release segments wholly before the read position

The writer reads back what the journal made durable instead of taking records from memory,
so a restart, a long database outage and normal running are one code path: the backlog lives
on disk, and memory holds only a bounded map for `get` of not-yet-committed records.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, NamedTuple, ParamSpec, TypeVar

import msgspec

from tokenport.errors import ConfigError, ServiceUnavailable
from tokenport.ledger.journal import Journal, Position, SegmentView, list_segments, read_batch
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import GroupBy, LedgerStore, UsageRow, open_store

log = logging.getLogger("tokenport.ledger")

P = ParamSpec("P")
T = TypeVar("T")

_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 5.0


class LedgerStats(msgspec.Struct):
    appended: int  # appends acknowledged by this process
    committed: int  # journal records the writer has taken through the database
    inserted: int  # of those, rows new to the database (replays insert 0)
    rejected: int  # records the database refused; kept in journal_dir/rejected.jsonl
    backlog: int
    pending_in_memory: int
    journal_segments: int
    journal_bytes: int
    fsyncs: int
    db_failures: int
    last_db_error: str | None


class _Batch(NamedTuple):
    frames: int
    inserted: int
    rejected: int
    ids: list[str]
    position: Position


class Ledger:
    """The gateway's durable request ledger.

    One per process and journal directory (a lock file enforces it), started once: after
    `stop()` or `abort()` make a new one. Siblings of `journal_dir` left by dead processes are
    replayed at start (`adopt_orphans`), so a directory per worker pid is safe.
    """

    def __init__(
        self,
        store_url: str,
        journal_dir: Path,
        *,
        batch_max: int = 500,
        flush_interval: float = 0.05,
        pending_max: int = 20_000,
        segment_bytes: int = 16 << 20,
        adopt_orphans: bool = True,
        opener: Callable[[str], LedgerStore] = open_store,
        sync: Literal["fsync", "process"] = "fsync",
    ) -> None:
        self.store_url = store_url
        self.journal_dir = Path(journal_dir)
        self.batch_max = batch_max
        self.flush_interval = flush_interval
        self.pending_max = pending_max
        self.adopt_orphans = adopt_orphans
        self._opener = opener
        self._journal = Journal(self.journal_dir, segment_bytes=segment_bytes, sync=sync)
        self._store: LedgerStore | None = None
        # One thread each, so the writer's connection stays on one thread and reads never
        # queue behind a batch commit.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-db")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-read")
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(LedgerRecord).decode
        self._pending: dict[str, LedgerRecord] = {}
        self._pos = Position(0, 0)
        self._writer: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._replayed = asyncio.Event()
        self._replay_frames = 0
        self._hurry = False
        self._closing = False
        self._appended = self._committed = self._inserted = self._rejected = 0
        self._db_failures = 0
        self._last_db_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and migrate it, open the journal, and replay what earlier runs left.

        Raises ServiceUnavailable if the database is down at start. Waits for the replay
        unless the database fails during it; the writer then keeps retrying in the background.
        """
        self._store = await self._in_db(self._opener, self.store_url)
        applied = await self._in_db(self._store.migrate)
        if applied:
            log.info("ledger migrations applied: %s", ", ".join(applied))
        if self.adopt_orphans:
            await self._adopt_orphans()
        await self._journal.open()
        self._pos = self._journal.first_position()
        self._replay_frames = self._journal.durable_frames
        if self._replay_frames == 0:
            self._replayed.set()
        self._writer = asyncio.create_task(self._write_loop(), name="ledger-writer")
        await self._replayed.wait()

    async def stop(self, timeout: float = 30.0) -> None:
        """Flush the journal, write everything to the database (up to `timeout`), close.

        What the database has not taken by then stays in the journal for the next start.
        """
        self._closing = True
        await self._journal.close()
        self._hurry = True
        self._journal.flushed.set()  # wake the writer if it is idle
        if self._writer is not None:
            done, _ = await asyncio.wait([self._writer], timeout=timeout)
            if not done:
                log.warning(
                    "ledger stop: %d records left in the journal for the next start", self.backlog()
                )
                self._writer.cancel()
                await asyncio.wait([self._writer])
        if self._caught_up():
            self._journal.release(Position(self._journal.active_segment + 1, 0))
        await self._close_store()

    async def abort(self) -> None:
        """Stop at once, as a crash would (minus the kill): nothing more is written to the
        database, unflushed appends fail, and the journal is left for the next start."""
        self._closing = True
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.wait([self._writer])
        await self._journal.abort()
        await self._close_store()

    async def _close_store(self) -> None:
        if self._store is not None:
            await self._in_db(self._store.close)
            self._store = None
        self._db.shutdown(wait=False)
        self._reads.shutdown(wait=False)

    async def _adopt_orphans(self) -> None:
        """Replay journals that dead processes left in sibling directories, then remove them.

        A journal directory per process (say, one per worker pid) is then safe: whoever starts
        next finishes a crashed worker's journal. A directory counts as an orphan only if it has
        a journal's lock file and segments, and nobody holds the lock.
        """
        parent = self.journal_dir.parent
        if not parent.is_dir():
            return
        for d in sorted(parent.iterdir()):
            if d == self.journal_dir or not (d / ".lock").exists() or not list_segments(d):
                continue
            orphan = Journal(d)
            try:
                await orphan.open()
            except ConfigError:
                continue  # its owner is alive
            try:
                await self._drain_orphan(orphan)
            except ServiceUnavailable as exc:
                log.error("could not replay orphaned journal %s yet: %s", d, exc)
                await orphan.close()
                continue
            await orphan.close()
            orphan.release(Position(orphan.active_segment + 1, 0))
            with contextlib.suppress(OSError):
                (d / ".lock").unlink()
                d.rmdir()

    async def _drain_orphan(self, orphan: Journal) -> None:
        pos = orphan.first_position()
        while True:
            batch = await self._in_db(self._commit_batch, orphan.directory, pos, orphan.views())
            if batch.frames == 0 and batch.position == pos:
                break
            log.info("replayed %d records from orphaned journal %s", batch.frames, orphan.directory)
            self._inserted += batch.inserted
            self._rejected += batch.rejected
            pos = batch.position
            orphan.release(pos)

    # -- the request path ----------------------------------------------------------------

    async def append(self, record: LedgerRecord) -> None:
        """Return once `record` is durable in the journal.

        Raises ServiceUnavailable if the journal cannot be written (disk full, stopped). If the
        caller is cancelled while waiting, the record is still written.
        """
        payload = self._encode(record)
        self._remember(record)
        try:
            await self._journal.append(payload)
        except ServiceUnavailable:
            self._pending.pop(record.id, None)
            raise
        self._appended += 1

    def note(self, record: LedgerRecord) -> None:
        """Journal `record` without waiting until it is durable: for refusals, whose answer
        should not wait on the disk (a crash may lose the last few). It is written with the
        next group write and reaches the database like any record."""
        self._journal.append_nowait(self._encode(record))
        self._appended += 1

    async def get(self, record_id: str) -> LedgerRecord | None:
        """The record with this id, including one appended a moment ago."""
        record = self._pending.get(record_id)
        if record is not None:
            return record
        store = self._require_store()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reads, store.get, record_id)

    async def usage_report(
        self,
        since: float,
        until: float,
        group_by: Sequence[GroupBy] = (),
        *,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """`LedgerStore.usage_report`, off the event loop. Counts committed records only."""
        store = self._require_store()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._reads, lambda: store.usage_report(since, until, group_by, key_id=key_id)
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every durable record is in the database (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while not self._caught_up() or self._journal.buffered():
                self._hurry = True
                self._journal.flushed.set()  # wake the writer from its batching wait
                self._progress.clear()
                await self._progress.wait()
        self._hurry = self._closing

    # -- observability -------------------------------------------------------------------

    def backlog(self) -> int:
        """Records appended (or found in the journal at start) not yet in the database."""
        return self._journal.durable_frames + self._journal.buffered() - self._committed

    def write_lag_s(self) -> float:
        """How long the oldest record not yet in the database has waited (0 when caught up):
        a record is made as its request ends, at `ts` plus its latency."""
        for record in self._pending.values():
            return max(0.0, time.time() - record.ts - record.latency_ms / 1000.0)
        return 0.0

    def stats(self) -> LedgerStats:
        return LedgerStats(
            appended=self._appended,
            committed=self._committed,
            inserted=self._inserted,
            rejected=self._rejected,
            backlog=self.backlog(),
            pending_in_memory=len(self._pending),
            journal_segments=self._journal.segment_count(),
            journal_bytes=self._journal.size_bytes(),
            fsyncs=self._journal.fsyncs,
            db_failures=self._db_failures,
            last_db_error=self._last_db_error,
        )

    # -- the writer ----------------------------------------------------------------------

    def _remember(self, record: LedgerRecord) -> None:
        # Bounded: in a long outage the oldest fall out of memory; they are still in the
        # journal and reach the database when it is back, only `get` misses them until then.
        self._pending[record.id] = record
        if len(self._pending) > self.pending_max:
            del self._pending[next(iter(self._pending))]

    def _durable_uncommitted(self) -> int:
        return self._journal.durable_frames - self._committed

    def _caught_up(self) -> bool:
        # The read position, not the counters, is the truth: counts can only drift if a
        # segment changes under us, and then they are re-anchored here.
        return self._pos >= self._journal.end()

    async def _write_loop(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            if self._caught_up():
                if self._closing and self._journal.buffered() == 0:
                    return
                await self._wait_flush(None)
                continue
            await self._gather_batch()
            try:
                views = self._journal.views()
                batch = await self._in_db(self._commit_batch, self.journal_dir, self._pos, views)
            except Exception as exc:
                self._on_db_failure(exc)
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = _BACKOFF_MIN
            self._on_batch(batch)

    async def _gather_batch(self) -> None:
        """Give a partial batch up to `flush_interval` to fill before writing it."""
        deadline = time.monotonic() + self.flush_interval
        while not self._hurry and self._durable_uncommitted() < self.batch_max:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await self._wait_flush(left)

    async def _wait_flush(self, timeout: float | None) -> None:
        self._journal.flushed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._journal.flushed.wait(), timeout)

    def _on_db_failure(self, exc: Exception) -> None:
        # ServiceUnavailable is the expected outage; anything else (say, the journal unreadable)
        # is a bug or a broken disk, retried the same way so the writer never dies silently.
        self._db_failures += 1
        message = str(exc)
        if self._last_db_error != message:
            if isinstance(exc, ServiceUnavailable):
                log.error("ledger database unavailable, records stay in the journal: %s", exc)
            else:
                log.exception("ledger writer failed, retrying", exc_info=exc)
        self._last_db_error = message
        self._replayed.set()  # start() must not wait on a database that is down

    def _on_batch(self, batch: _Batch) -> None:
        self._committed += batch.frames
        self._inserted += batch.inserted
        self._rejected += batch.rejected
        self._last_db_error = None
        for record_id in batch.ids:
            self._pending.pop(record_id, None)
        self._pos = batch.position
        self._journal.release(batch.position)
        if self._caught_up() and self._committed != self._journal.durable_frames:
            log.warning("ledger counts drifted (a journal segment changed on disk); re-anchored")
            self._committed = self._journal.durable_frames
        if self._committed >= self._replay_frames:
            self._replayed.set()
        self._progress.set()

    def _commit_batch(
        self, directory: Path, pos: Position, views: tuple[SegmentView, ...]
    ) -> _Batch:
        """Runs on the DB thread: read a batch from a journal and insert it."""
        payloads, end = read_batch(directory, views, pos, self.batch_max)
        records: list[LedgerRecord] = []
        rejected = 0
        for payload in payloads:
            try:
                records.append(self._decode(payload))
            except msgspec.DecodeError as exc:
                self._reject(payload, exc)
                rejected += 1
        inserted, refused = self._insert(records)
        return _Batch(len(payloads), inserted, rejected + refused, [r.id for r in records], end)

    def _insert(self, records: list[LedgerRecord]) -> tuple[int, int]:
        store = self._require_store()
        try:
            return store.insert_batch(records), 0
        except ServiceUnavailable:
            raise
        except Exception as exc:  # a value the database refuses; find which, keep the rest
            log.error("ledger batch refused (%s); inserting one by one", exc)
        inserted = refused = 0
        for record in records:
            try:
                inserted += store.insert_batch([record])
            except ServiceUnavailable:
                raise
            except Exception as exc:
                self._reject(self._encode(record), exc)
                refused += 1
        return inserted, refused

    def _reject(self, payload: bytes, exc: Exception) -> None:
        """Keep what the database will not take, durably, where an operator can find it."""
        log.error("ledger record refused by the database, kept in rejected.jsonl: %s", exc)
        line = msgspec.json.encode(
            {"error": repr(exc), "msgpack_b64": base64.b64encode(payload).decode()}
        )
        fd = os.open(
            self.journal_dir / "rejected.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        try:
            os.write(fd, line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def _require_store(self) -> LedgerStore:
        if self._store is None:
            raise ServiceUnavailable("The ledger is not started.")
        return self._store

    async def _in_db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))
