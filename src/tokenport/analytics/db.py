"""Analytics' own connections to the ledger database: reads, one-off migrations, exports.

Analytics needs SQL the `LedgerStore` seam does not offer (per-period CASE buckets, the
latest hour, streaming a whole table out), so it opens its own connections with the same
URL conventions as `ledger.store.open_store`. Every database failure becomes
`ServiceUnavailable`, as elsewhere in tokenport.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tokenport.errors import ConfigError, ServiceUnavailable

Dialect = Literal["sqlite", "postgres"]
Rows = list[tuple[Any, ...]]
DB_ERRORS = (sqlite3.Error, psycopg.Error, OSError)


def parse_url(url: str) -> tuple[Dialect, str]:
    """(dialect, SQLite path or PostgreSQL URL), by `open_store`'s rules."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "sqlite", url
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if path:
            return "sqlite", path
    elif scheme in ("postgresql", "postgres"):
        return "postgres", url
    raise ConfigError(f"Unsupported database URL {url!r}: use sqlite:///path.db or postgresql://")


def where(url: str) -> str:
    """The database named without its password, for messages."""
    dialect, target = parse_url(url)
    if dialect == "sqlite":
        return target
    info = conninfo_to_dict(target)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class Database:
    """One lazily opened connection, serialized by a lock; reopened after a failure."""

    def __init__(self, url: str, *, readonly: bool = True) -> None:
        self.url = url
        self.dialect, self._target = parse_url(url)
        self.param = "?" if self.dialect == "sqlite" else "%s"
        self.readonly = readonly
        self._lock = threading.Lock()
        self._conn: Any = None

    def exists(self) -> bool:
        """False for a SQLite file not created yet (an empty ledger, not an error)."""
        return self.dialect == "postgres" or Path(self._target).exists()

    def _connect(self) -> Any:
        if self.dialect == "postgres":
            return psycopg.connect(self._target, autocommit=True, connect_timeout=5)
        if not self.readonly:
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._target, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        if self.readonly:
            conn.execute("PRAGMA query_only = 1")
        return conn

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                yield self._conn
            except DB_ERRORS as exc:
                self._close()
                raise ServiceUnavailable(
                    f"The ledger database {where(self.url)} is unavailable: {exc}"
                ) from exc

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        with self.connection() as conn:
            cur = conn.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def table_exists(self, name: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_name = %s"
            sql += " AND table_schema = ANY(current_schemas(false))"
        return bool(self.rows(sql, (name,)))

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*DB_ERRORS):  # already broken; it is being replaced
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._close()
