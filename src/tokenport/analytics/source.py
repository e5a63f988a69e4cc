"""Reading the rollups for rankings: per-period sums of one dimension, the latest hour, keys.

Every read is one range scan of a narrow `rollup_<dimension>_hourly` table (see `rollups.py`),
summed per period in SQL with a CASE over the period boundaries, so what comes back is
periods x distinct values, never hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import msgspec

from tokenport.analytics.periods import Period
from tokenport.analytics.rollups import DIMENSIONS, SUMS, ensure
from tokenport.db import Database
from tokenport.ledger.store import UsageRow
from tokenport.security.appname import MAX_RAW_CHARS, normalize_app

SourceDimension = Literal["model", "app", "key"]
_FIELD = {"model": "model_served", "app": "app", "key": "key_id"}


class KeyInfo(msgspec.Struct, frozen=True):
    name: str
    country: str | None = None


class RollupSource:
    """Reads for one ledger database. Thread-safe; blocking (call it off the event loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = Database(url)
        # One connection per dimension, so the three scans of a ranking run side by side
        # (both drivers release the GIL while the database works).
        self._dims = {dim: Database(url) for dim in _FIELD}
        self._pool: ThreadPoolExecutor | None = None
        self._ready = False

    def ready(self) -> bool:
        """Whether there is a ledger to read; migrates analytics' tables on first use.

        A SQLite file that does not exist yet is an empty ledger, and is not created here.
        """
        if self._ready:
            return True
        if not self._db.exists():
            return False
        if not self._db.table_exists(DIMENSIONS["model"][0]):
            ensure(self.url)
        self._ready = True
        return True

    def latest_hour(self) -> int | None:
        """The start of the latest hour with traffic, or None for an empty ledger."""
        if not self.ready():
            return None
        rows = self._db.rows(f"SELECT MAX(hour) FROM {DIMENSIONS['model'][0]}")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def by_period(self, dim: SourceDimension, periods: Sequence[Period]) -> list[UsageRow]:
        """Sums per (period, value); `bucket` is the period's index in `periods`.

        `periods` must be back to back, oldest first.
        """
        if not periods or not self.ready():
            return []
        table, column = DIMENSIONS[dim]
        p = self._db.param
        cases = " ".join(f"WHEN hour < {p} THEN {i}" for i in range(len(periods) - 1))
        bucket = f"CASE {cases} ELSE {len(periods) - 1} END" if cases else "0"
        sums = ", ".join(f"SUM({c})" for c in SUMS)
        # Only the start of an app name is ever used (security/appname.py): do not ship more.
        value = f"SUBSTR({column}, 1, {MAX_RAW_CHARS})" if dim == "app" else column
        sql = (
            f"SELECT {bucket}, {value}, {sums} FROM {table} "
            f"WHERE hour >= {p} AND hour < {p} GROUP BY 1, 2"
        )
        params = [q.until for q in periods[:-1]] + [periods[0].since, periods[-1].until]
        return [_row(dim, r) for r in self._dims[dim].rows(sql, params)]

    def by_periods(
        self, jobs: Sequence[tuple[SourceDimension, Sequence[Period]]]
    ) -> list[list[UsageRow]]:
        """Several `by_period` reads at once, results in the order asked."""
        if len(jobs) < 2 or not self.ready():
            return [self.by_period(dim, periods) for dim, periods in jobs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(_FIELD), thread_name_prefix="rankings")
        futures = [self._pool.submit(self.by_period, dim, periods) for dim, periods in jobs]
        return [f.result() for f in futures]

    def keys(self) -> dict[str, KeyInfo]:
        """Every API key's name and registered country, by id (empty if there is no key table)."""
        if not self.ready() or not self._db.table_exists("api_keys"):
            return {}
        rows = self._db.rows("SELECT id, name, country FROM api_keys")
        return {r[0]: KeyInfo(r[1], r[2] or None) for r in rows}

    def explain(self, dim: SourceDimension, periods: Sequence[Period]) -> list[str]:
        """The database's plan for `by_period`, one line per step (for the benchmark)."""
        table, column = DIMENSIONS[dim]
        p = self._db.param
        prefix = "EXPLAIN QUERY PLAN" if self._db.dialect == "sqlite" else "EXPLAIN"
        sql = (
            f"{prefix} SELECT {column}, SUM(requests) FROM {table} "
            f"WHERE hour >= {p} AND hour < {p} GROUP BY 1"
        )
        rows = self._db.rows(sql, [periods[0].since, periods[-1].until])
        return [str(r[-1]) for r in rows]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for db in (self._db, *self._dims.values()):
            db.close()


def _row(dim: SourceDimension, r: Sequence[Any]) -> UsageRow:
    # App names are client text: ledgers written before names were normalised at the edge
    # may hold megabytes of one (the rankings merge names that normalise alike).
    value = normalize_app(r[1]) if dim == "app" else r[1] or None
    fields: dict[str, Any] = {"bucket": int(r[0]), _FIELD[dim]: value}
    for name, value in zip(SUMS, r[2:], strict=True):
        fields[name] = float(value or 0) if name in ("cost", "latency_ms_sum") else int(value or 0)
    return UsageRow(**fields)
