"""The SQL both stores share; a dialect supplies only connections, transactions and `param`.

Rollups are kept incrementally: a batch inserts its requests with `ON CONFLICT (id) DO NOTHING
RETURNING id`, and only the ids that come back (the rows new to the table) feed the rollup
upsert, in the same transaction. A replayed batch therefore inserts nothing and counts nothing.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Protocol

import msgspec

from tokenport.errors import BadRequest, ServiceUnavailable
from tokenport.ledger.migrations import migrate
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import ROLLUP_KEYS, GroupBy, UsageRow
from tokenport.types import Attempt

COLUMNS: tuple[str, ...] = LedgerRecord.__struct_fields__
_BOOLS = ("usage_estimated", "stream")
_ATTEMPTS = msgspec.json.Decoder(list[Attempt])
_JSON = msgspec.json.Encoder()

_KEY_COLUMNS = ("hour", "model_served", "provider", "key_id", "app")
_SUM_COLUMNS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms_sum",
    "ttft_ms_sum",
    "ttft_count",
    "energy_wh",
)
_FLOAT_SUMS = frozenset({"cost", "latency_ms_sum", "ttft_ms_sum", "energy_wh"})
_GROUP_EXPR: dict[str, str] = {
    "hour": "hour",
    "day": "(hour / 86400) * 86400",  # integer division in both dialects
    "model_served": "model_served",
    "provider": "provider",
    "key_id": "key_id",
    "app": "app",
}


class Tx(Protocol):
    """The writer connection inside a transaction."""

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...
    def many(self, sql: str, params: Sequence[Sequence[object]]) -> None: ...
    def insert_new(self, rows: Sequence[Sequence[object]]) -> list[object]:
        """Insert `requests` rows (id first, in `COLUMNS` order) whose id is not there yet;
        return the ids actually inserted. Each dialect does this its fastest safe way."""
        ...


def record_values(record: LedgerRecord) -> tuple[object, ...]:
    values = [getattr(record, c) for c in COLUMNS]
    values[COLUMNS.index("attempts")] = _JSON.encode(record.attempts).decode()
    return tuple(values)


def row_record(row: Sequence[Any]) -> LedgerRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    for name in _BOOLS:
        values[name] = bool(values[name])  # SQLite hands booleans back as 0/1
    values["attempts"] = _ATTEMPTS.decode(values["attempts"])
    return LedgerRecord(**values)


def rollup_deltas(
    records: Iterable[LedgerRecord], bucket_s: int = 3600
) -> list[tuple[object, ...]]:
    """One row of summed deltas per rollup key (unique keys: PostgreSQL rejects an upsert that
    touches the same row twice in one statement). `bucket_s`: 3600 hourly, 86400 daily."""
    sums: dict[tuple[object, ...], list[float]] = {}
    for r in records:
        bucket = int(r.ts // bucket_s) * bucket_s
        key = (bucket, r.model_served or "", r.provider or "", r.key_id or "", r.app or "")
        acc = sums.setdefault(key, [0.0] * len(_SUM_COLUMNS))
        delta = (
            1,
            r.status != "ok",
            r.prompt_tokens,
            r.completion_tokens,
            r.cached_tokens,
            r.cache_write_tokens,
            r.reasoning_tokens,
            r.cost,
            r.latency_ms,
            r.ttft_ms or 0.0,
            r.ttft_ms is not None,
            r.energy_wh or 0.0,
        )
        for i, d in enumerate(delta):
            acc[i] += d
    return [
        (*key, *(v if c in _FLOAT_SUMS else int(v) for c, v in zip(_SUM_COLUMNS, acc, strict=True)))
        for key, acc in sums.items()
    ]


def insert_sql(param: str) -> str:
    return (
        f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join([param] * len(COLUMNS))}) "
        "ON CONFLICT (id) DO NOTHING"
    )


def _upsert_sql(param: str, table: str = "rollup_hourly") -> str:
    keys = _KEY_COLUMNS if table == "rollup_hourly" else ("day", *_KEY_COLUMNS[1:])
    columns = (*keys, *_SUM_COLUMNS)
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _SUM_COLUMNS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([param] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def _report_sql(param: str, group_by: Sequence[GroupBy], by_key: bool, daily: bool) -> str:
    unknown = [g for g in group_by if g not in _GROUP_EXPR]
    if unknown or ("hour" in group_by and "day" in group_by) or (daily and "hour" in group_by):
        raise BadRequest(f"Cannot group usage by {group_by!r}.", param="group_by")
    groups = ["day" if daily and g == "day" else _GROUP_EXPR[g] for g in group_by]
    sums = [
        f"COALESCE(SUM({c}), 0)" if c in _FLOAT_SUMS else f"CAST(COALESCE(SUM({c}), 0) AS BIGINT)"
        for c in _SUM_COLUMNS
    ]
    col, table = ("day", "rollup_daily") if daily else ("hour", "rollup_hourly")
    where = f"{col} >= {param} AND {col} < {param}" + (f" AND key_id = {param}" if by_key else "")
    sql = f"SELECT {', '.join([*groups, *sums])} FROM {table} WHERE {where}"
    if groups:
        positions = ", ".join(str(i + 1) for i in range(len(groups)))
        sql += f" GROUP BY {', '.join(groups)} ORDER BY {positions}"
    return sql


def _usage_row(group_by: Sequence[GroupBy], row: Sequence[Any]) -> UsageRow:
    n = len(group_by)
    fields: dict[str, Any] = {}
    for group, value in zip(group_by, row[:n], strict=True):
        if group in ("hour", "day"):
            fields["bucket"] = int(value)
        else:
            fields[group] = value or None
    for column, value in zip(_SUM_COLUMNS, row[n:], strict=True):
        fields[column] = float(value) if column in _FLOAT_SUMS else int(value)
    return UsageRow(**fields)


class SqlStore(ABC):
    """`LedgerStore` over a DB-API connection; subclasses supply the dialect."""

    param: ClassVar[str] = "?"
    # The driver's errors: any of `_driver_errors` means the database is unavailable; the
    # `_per_record_errors` among them belong to one bad record and are re-raised as they are.
    _driver_errors: ClassVar[tuple[type[Exception], ...]] = ()
    _per_record_errors: ClassVar[tuple[type[Exception], ...]] = ()

    @abstractmethod
    def _describe_outage(self, exc: Exception) -> str:
        """A one-line message naming this database and what failed."""

    @abstractmethod
    def _drop(self, *, writer: bool) -> None:
        """Forget a connection after a failure, so the next use reconnects."""

    @contextmanager
    def _outage(self, *, writer: bool) -> Iterator[None]:
        try:
            yield
        except self._per_record_errors:
            raise
        except self._driver_errors as exc:
            self._drop(writer=writer)
            raise ServiceUnavailable(self._describe_outage(exc)) from exc

    @abstractmethod
    def _transaction(self, *, migrating: bool = False) -> AbstractContextManager[Tx]:
        """The writer connection in a transaction; outages raise ServiceUnavailable."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """A read on the reader connection; outages raise ServiceUnavailable."""

    @abstractmethod
    def close(self) -> None: ...

    def migrate(self) -> list[str]:
        with self._transaction(migrating=True) as tx:
            return migrate(tx.rows, self.param)

    def insert_batch(self, records: Sequence[LedgerRecord], /) -> int:
        unique: dict[str, LedgerRecord] = {}
        for r in records:
            unique.setdefault(r.id, r)
        if not unique:
            return 0
        batch = list(unique.values())
        with self._transaction() as tx:
            inserted = set(tx.insert_new([record_values(r) for r in batch]))
            new = [r for r in batch if r.id in inserted]
            if new:
                tx.many(_upsert_sql(self.param), rollup_deltas(new))
                tx.many(_upsert_sql(self.param, "rollup_daily"), rollup_deltas(new, 86400))
        return len(inserted)

    def get(self, record_id: str, /) -> LedgerRecord | None:
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE id = {self.param}"
        rows = self._query(sql, (record_id,))
        return row_record(rows[0]) if rows else None

    def rollups(self, since: float, until: float) -> list[UsageRow]:
        return self.usage_report(since, until, ROLLUP_KEYS)

    def usage_report(
        self,
        since: float,
        until: float,
        group_by: Sequence[GroupBy] = (),
        *,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        # A window that starts at a UTC midnight and runs to now (or to a midnight) is
        # answered from the daily table; anything else from the hourly one.
        daily = (
            "hour" not in group_by
            and since % 86400 == 0
            and (until % 86400 == 0 or until >= time.time())
        )
        step = 86400 if daily else 3600
        params: list[object] = [int(since // step) * step, math.ceil(until)]
        if key_id is not None:
            params.append(key_id)
        sql = _report_sql(self.param, group_by, key_id is not None, daily)
        rows = self._query(sql, params)
        return [_usage_row(group_by, row) for row in rows]
