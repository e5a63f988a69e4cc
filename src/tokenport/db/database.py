"""One connection to a tokenport database: opened lazily, serialized, reopened after a failure.

Everything that touches the database holds one or more `Database`s: the ledger a writer and a
reader, the key store one, analytics one per parallel scan. This is the only module that
talks to the drivers (stdlib sqlite3, psycopg 3), and the only place where their errors
become `ServiceUnavailable`, naming the database without its password.

Connections are set up the same way for every user:
- SQLite read-write: WAL, so readers never wait for the writer; synchronous=FULL, because the
  ledger deletes journal segments once a commit returns, and under NORMAL a power cut would
  lose exactly those records (FULL costs one fsync per batch). Read-only: `query_only`, so a
  reader can never write.
- SQLite busy timeout: `BUSY_TIMEOUT_S` for every connection. Writers hold the lock for
  milliseconds (a batch, a reservation); a request that waits longer is better answered 503
  than left hanging.
- PostgreSQL: autocommit outside explicit transactions, a connect timeout and a statement
  timeout, so an outage fails fast instead of hanging a thread. Read-only connections default
  to read-only transactions.

`transaction()` is BEGIN IMMEDIATE on SQLite (the write lock up front, so what a transaction
reads cannot change before it writes) and a transaction block on PostgreSQL, optionally
holding a transaction-scoped advisory lock, released at commit or rollback.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg

from tokenport.db.url import DatabaseUrl, parse_url
from tokenport.errors import ServiceUnavailable

Rows = list[tuple[Any, ...]]

BUSY_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_MS = 60_000
DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error, OSError)
# Errors that belong to one bad value, not to the database: a caller that inserts many rows
# (the ledger) catches these to find the bad row and keep the rest.
VALUE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    psycopg.IntegrityError,
    psycopg.DataError,
)


class Tx:
    """Statements inside one `Database.transaction()`."""

    def __init__(self, handle: Any, dialect: str) -> None:
        # A sqlite3.Connection or a psycopg.Cursor: both have execute() and executemany().
        self._handle = handle
        self.dialect = dialect
        self.param = "?" if dialect == "sqlite" else "%s"

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        return _fetch(self._handle.execute(sql, params))

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Execute one statement; return how many rows it changed."""
        count: int = self._handle.execute(sql, params).rowcount
        return count

    def many(self, sql: str, params: Sequence[Sequence[object]]) -> None:
        self._handle.executemany(sql, params)

    def copy(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """PostgreSQL's `COPY ... FROM STDIN`, the fastest way to load many rows."""
        if not isinstance(self._handle, psycopg.Cursor):
            raise TypeError("COPY is PostgreSQL only")
        with self._handle.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


class Database:
    """One connection to the database `url` names; safe to share between threads."""

    def __init__(
        self,
        url: str | DatabaseUrl,
        *,
        readonly: bool = True,
        what: str = "ledger database",
        connect_timeout: int = 5,
        keep_value_errors: bool = False,
    ) -> None:
        self.url = parse_url(url)
        self.dialect = self.url.dialect
        self.param = self.url.param
        self.where = self.url.where
        self.readonly = readonly
        self.what = what
        self._connect_timeout = connect_timeout
        self._passthrough = VALUE_ERRORS if keep_value_errors else ()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | psycopg.Connection[tuple[Any, ...]] | None = None

    def exists(self) -> bool:
        """False for a SQLite file not created yet (an empty ledger, not an error)."""
        return self.dialect == "postgres" or self.url.memory or Path(self.url.target).exists()

    def connect(self) -> None:
        """Open the connection now rather than on first use, to fail fast at start-up."""
        with self._session():
            pass

    # -- statements ----------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        with self._session() as conn:
            return _fetch(conn.execute(sql, params))

    def execute(self, sql: str, params: Sequence[object] = ()) -> tuple[Rows, int]:
        """One statement in autocommit: its rows (if any) and how many rows it changed."""
        with self._session() as conn:
            cur = conn.execute(sql, params)
            return _fetch(cur), cur.rowcount

    def stream(self, sql: str, params: Sequence[object], batch: int) -> Iterator[Rows]:
        """A query's rows in batches, in constant memory (a server-side cursor on PostgreSQL).

        The connection stays taken until the iterator is exhausted or closed.
        """
        with self._session() as conn:
            if isinstance(conn, psycopg.Connection):
                # A named cursor streams, and needs a transaction around it.
                with conn.transaction(), conn.cursor(name="tp_stream") as named:
                    named.execute(sql, params)
                    while rows := named.fetchmany(batch):
                        yield rows
                return
            cur = conn.execute(sql, params)
            while rows := cur.fetchmany(batch):
                yield rows

    @contextmanager
    def transaction(self, *, lock: int | None = None) -> Iterator[Tx]:
        """One transaction; committed if the block ends normally, else rolled back.

        `lock`: a PostgreSQL advisory lock to hold until the end (replicas doing the same
        thing at once take turns). SQLite needs none: BEGIN IMMEDIATE already serializes.
        """
        with self._session() as conn:
            if isinstance(conn, psycopg.Connection):
                with conn.transaction(), conn.cursor() as cur:
                    if lock is not None:
                        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                    yield Tx(cur, self.dialect)
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn, self.dialect)
            except BaseException:
                with suppress(sqlite3.Error):  # the error being raised says more
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_name = %s"
            sql += " AND table_schema = ANY(current_schemas(false))"
        return bool(self.rows(sql, (name,)))

    def backend_pid(self) -> int | None:
        """The PostgreSQL server process serving this connection (tests cut it to fake an
        outage); None on SQLite or when not connected."""
        with self._lock:
            conn = self._conn
            return conn.info.backend_pid if isinstance(conn, psycopg.Connection) else None

    def close(self) -> None:
        with self._lock:
            self._close(force=True)

    # -- the connection --------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection | psycopg.Connection[tuple[Any, ...]]]:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._open()
                yield self._conn
            except self._passthrough:
                raise
            except DRIVER_ERRORS as exc:
                # Reopen next time rather than trust a connection in an unknown state.
                self._close(force=False)
                raise ServiceUnavailable(
                    f"The {self.what} at {self.where} is unavailable: {exc}"
                ) from exc

    def _open(self) -> sqlite3.Connection | psycopg.Connection[tuple[Any, ...]]:
        try:
            return self._open_pg() if self.dialect == "postgres" else self._open_sqlite()
        except DRIVER_ERRORS as exc:
            raise ServiceUnavailable(
                f"The {self.what} at {self.where} is not reachable: {exc}"
            ) from exc

    def _open_sqlite(self) -> sqlite3.Connection:
        path = self.url.target
        if not self.readonly and not self.url.memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), never implicit.
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        if self.readonly:
            conn.execute("PRAGMA query_only = 1")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            # The ledger folds each batch into its rollups through a temporary table and a
            # GROUP BY sort (ledger/rollups.py); in memory they cost ~6% less than in a file.
            conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    def _open_pg(self) -> psycopg.Connection[tuple[Any, ...]]:
        kwargs: dict[str, Any] = {}
        if "connect_timeout" not in self.url.target:
            kwargs["connect_timeout"] = self._connect_timeout
        conn = psycopg.connect(self.url.target, autocommit=True, **kwargs)
        try:
            conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            if self.readonly:
                conn.execute("SET default_transaction_read_only = on")
        except BaseException:
            conn.close()
            raise
        return conn

    def _close(self, *, force: bool) -> None:
        # An in-memory database lives only in its connection: only an explicit close ends it.
        if self.url.memory and not force:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(*DRIVER_ERRORS):  # it may be broken already; it is being replaced
                conn.close()


def _fetch(cur: Any) -> Rows:
    return list(cur.fetchall()) if cur.description else []
