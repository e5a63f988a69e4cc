"""The PostgreSQL ledger store: psycopg 3, synchronous connections used from the ledger's threads.

Why sync psycopg and not its async API: the writer sends one multi-row statement per batch of
hundreds of records, so there is nothing for an event loop to overlap; running it on the
ledger's DB thread keeps the driver out of the gateway's loop entirely, and lets SQLite and
PostgreSQL share every line of SQL logic (`sql.SqlStore`).

Every connection failure, lost connection or server-side problem other than a bad value
becomes `ServiceUnavailable`; the broken connection is dropped and the next call reconnects,
bounded by `connect_timeout`, so an outage never hangs the writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tokenport.errors import ServiceUnavailable
from tokenport.ledger.sql import COLUMNS, SqlStore, Tx

Connection = psycopg.Connection[tuple[Any, ...]]

_PER_RECORD_ERRORS = (psycopg.DataError, psycopg.IntegrityError)
# Any constant works; it only has to be the same for every tokenport replica.
_MIGRATION_LOCK = 0x746F6B656E706F72
_STATEMENT_TIMEOUT_MS = 60_000


_COLS = ", ".join(COLUMNS)
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS _incoming (LIKE requests INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS"
)


class _PgTx:
    def __init__(self, cur: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cur = cur

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(sql, params)
        return self._cur.fetchall() if self._cur.description else []

    def many(self, sql: str, params: Sequence[Sequence[object]]) -> None:
        self._cur.executemany(sql, params)

    def insert_new(self, rows: Sequence[Sequence[object]]) -> list[object]:
        # COPY into a transaction-local staging table, then one set-based insert: several
        # times faster than a row-per-statement insert, and still exact about which are new.
        cur = self._cur
        cur.execute(_STAGING)
        with cur.copy(f"COPY _incoming ({_COLS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO requests ({_COLS}) SELECT {_COLS} FROM _incoming "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        return [r[0] for r in cur.fetchall()]


class PostgresStore(SqlStore):
    param = "%s"
    _driver_errors = (psycopg.Error,)
    _per_record_errors = _PER_RECORD_ERRORS

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        info = conninfo_to_dict(url)
        # Named without the password, for error messages.
        self.where = (
            f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        )
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._reader: Connection | None = None
        self._writer: Connection | None = self._connect()

    def _connect(self) -> Connection:
        kwargs: dict[str, Any] = {}
        if "connect_timeout" not in self._url:
            kwargs["connect_timeout"] = self._connect_timeout
        try:
            conn = psycopg.connect(self._url, autocommit=True, **kwargs)
            conn.execute(f"SET statement_timeout = {_STATEMENT_TIMEOUT_MS}")
        except psycopg.Error as exc:
            raise ServiceUnavailable(
                f"The PostgreSQL ledger database at {self.where} is not reachable: {exc}"
            ) from exc
        return conn

    def _describe_outage(self, exc: Exception) -> str:
        return f"The PostgreSQL ledger database at {self.where} failed: {exc}"

    def _drop(self, *, writer: bool) -> None:
        conn = self._writer if writer else self._reader
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()
        if writer:
            self._writer = None
        else:
            self._reader = None

    @contextmanager
    def _transaction(self, *, migrating: bool = False) -> Iterator[Tx]:
        with self._wlock, self._outage(writer=True):
            if self._writer is None:
                self._writer = self._connect()
            with self._writer.transaction(), self._writer.cursor() as cur:
                if migrating:
                    # Replicas starting together: the first migrates, the rest wait and find
                    # nothing left to do. Released at commit.
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                yield _PgTx(cur)

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._rlock, self._outage(writer=False):
            if self._reader is None:
                self._reader = self._connect()
            return self._reader.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._wlock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._rlock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
