"""The SQLite ledger store: stdlib sqlite3, WAL, one writer connection and one reader.

The writer connection is used only from the ledger's single DB thread (the lock makes other
callers, such as `synth.fill`, safe too); reads get their own connection so a dashboard query
never waits behind a batch commit (WAL lets them run side by side).

synchronous=FULL on the writer, not NORMAL: the ledger deletes journal segments once their
records are committed here, and under NORMAL a WAL commit survives a process crash but not a
power cut, which would lose exactly those records. FULL costs one WAL fsync per batch of up
to `batch_max` records, which is noise next to the batch itself.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tokenport.ledger.sql import SqlStore, Tx, insert_sql

_PER_RECORD_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError)
_IN_CHUNK = 500  # ids per `IN (...)` lookup, well under SQLite's bound-parameter limit


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def many(self, sql: str, params: Sequence[Sequence[object]]) -> None:
        self._conn.executemany(sql, params)

    def insert_new(self, rows: Sequence[Sequence[object]]) -> list[object]:
        # sqlite3's executemany refuses RETURNING, and one execute per row costs more than
        # the rest of a batch. The writer holds the write lock (BEGIN IMMEDIATE), so reading
        # which ids exist and then inserting in one executemany has the same outcome.
        ids = [row[0] for row in rows]
        existing: set[object] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            found = self._conn.execute(f"SELECT id FROM requests WHERE id IN ({marks})", chunk)
            existing.update(r[0] for r in found)
        self._conn.executemany(insert_sql("?"), rows)
        return [i for i in ids if i not in existing]


class SqliteStore(SqlStore):
    param = "?"
    _driver_errors = (sqlite3.Error,)
    _per_record_errors = _PER_RECORD_ERRORS

    def __init__(self, path: str) -> None:
        self.path = path
        self._memory = path == ":memory:"
        self._wlock = threading.Lock()
        # An in-memory database exists only in its one connection, so reads must share it.
        self._rlock = self._wlock if self._memory else threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        if not self._memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._wlock, self._outage(writer=True):
            self._writer = self._connect(writer=True)

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE/COMMIT ourselves.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        if writer:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        else:
            conn.execute("PRAGMA query_only = 1")
        return conn

    def _describe_outage(self, exc: Exception) -> str:
        return f"The SQLite ledger database {self.path} is unavailable: {exc}"

    def _drop(self, *, writer: bool) -> None:
        # Reopen after a failure rather than trust a connection in an unknown state; an
        # in-memory database would vanish with its connection, so that one is kept.
        conn = self._writer if writer else self._reader
        if self._memory or conn is None:
            return
        with suppress(sqlite3.Error):
            conn.close()
        if writer:
            self._writer = None
        else:
            self._reader = None

    @contextmanager
    def _transaction(self, *, migrating: bool = False) -> Iterator[Tx]:
        # BEGIN IMMEDIATE takes the write lock up front, which also serializes migrations.
        with self._wlock, self._outage(writer=True):
            if self._writer is None:
                self._writer = self._connect(writer=True)
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.rollback()
                raise
            conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._rlock, self._outage(writer=self._memory):
            if self._memory:
                assert self._writer is not None
                return self._writer.execute(sql, params).fetchall()
            if self._reader is None:
                self._reader = self._connect(writer=False)
            return self._reader.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._wlock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        if not self._memory:
            with self._rlock:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
