"""The SQL both stores share; a dialect supplies only `insert_new`, its fastest safe insert.

Connections, transactions and outages are `tokenport.db`'s: the store holds a writer `Database`
(used from the ledger's one DB thread) and a reader, so a dashboard query never waits behind a
batch commit. Rollups are kept incrementally: a batch inserts its requests skipping ids already
there, and only the rows new to the table feed the rollup upserts (`ledger.rollups`), in the
same transaction, and so do the key charges the gateway could not make (`ledger.charges`).
A replayed batch therefore inserts nothing, counts nothing and charges nothing.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import msgspec

from tokenport.db import Database, DatabaseUrl, Tx, migrate
from tokenport.db.schema.rollups import FLOAT_SUMS, SUM_COLUMNS
from tokenport.errors import BadRequest
from tokenport.ledger import charges, rollups, signals
from tokenport.ledger.base import ROLLUP_KEYS, GroupBy, UsageRow
from tokenport.ledger.record import LedgerRecord
from tokenport.values import Attempt, PluginUse

# Every field is a column, except the journal-only `hold` and `signals` (its own table).
COLUMNS: tuple[str, ...] = tuple(
    f for f in LedgerRecord.__struct_fields__ if f not in ("hold", "signals")
)
_BOOLS = ("usage_estimated", "stream", "cache_hit")
_ATTEMPTS = msgspec.json.Decoder(list[Attempt])
_PLUGINS = msgspec.json.Decoder(list[PluginUse] | None)
_JSON = msgspec.json.Encoder()

_GROUP_EXPR: dict[str, str] = {
    "hour": "hour",
    "day": "(hour / 86400) * 86400",  # integer division in both dialects
    "model_served": "model_served",
    "provider": "provider",
    "key_id": "key_id",
    "app": "app",
}


def record_values(record: LedgerRecord) -> tuple[object, ...]:
    values = [getattr(record, c) for c in COLUMNS]
    values[COLUMNS.index("attempts")] = _JSON.encode(record.attempts).decode()
    if record.plugins is not None:
        values[COLUMNS.index("plugins")] = _JSON.encode(record.plugins).decode()
    return tuple(values)


def signal_values(record: LedgerRecord) -> tuple[object, ...]:
    s = record.signals
    if s is None:
        raise ValueError(f"record {record.id} has no signals")
    own = (
        record.id,
        record.ts,
        record.key_id,
        record.door,
        record.status,
        record.prompt_tokens,
        record.completion_tokens,
        record.model_requested,
    )
    return own + msgspec.structs.astuple(s)  # SIGNAL_FIELDS is the struct's field order


def row_record(row: Sequence[Any]) -> LedgerRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    for name in _BOOLS:
        values[name] = bool(values[name])  # SQLite hands booleans back as 0/1
    values["attempts"] = _ATTEMPTS.decode(values["attempts"])
    if values["plugins"] is not None:
        values["plugins"] = _PLUGINS.decode(values["plugins"])
    return LedgerRecord(**values)


def insert_sql(param: str) -> str:
    return (
        f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join([param] * len(COLUMNS))}) "
        "ON CONFLICT (id) DO NOTHING"
    )


def _report_sql(param: str, group_by: Sequence[GroupBy], by_key: bool, daily: bool) -> str:
    unknown = [g for g in group_by if g not in _GROUP_EXPR]
    if unknown or ("hour" in group_by and "day" in group_by) or (daily and "hour" in group_by):
        raise BadRequest(f"Cannot group usage by {group_by!r}.", param="group_by")
    groups = ["day" if daily and g == "day" else _GROUP_EXPR[g] for g in group_by]
    sums = [
        f"COALESCE(SUM({c}), 0)" if c in FLOAT_SUMS else f"CAST(COALESCE(SUM({c}), 0) AS BIGINT)"
        for c in SUM_COLUMNS
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
    for column, value in zip(SUM_COLUMNS, row[n:], strict=True):
        fields[column] = float(value) if column in FLOAT_SUMS else int(value)
    return UsageRow(**fields)


class SqlStore(ABC):
    """`LedgerStore` over `tokenport.db`; subclasses supply `insert_new` for their dialect."""

    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        self.param = url.param
        self._writer = Database(url, readonly=False, keep_value_errors=True)
        # An in-memory database exists only in its one connection, so reads must share it.
        self._reader = (
            self._writer if url.memory else Database(url, readonly=True, keep_value_errors=True)
        )
        self._writer.connect()  # fail at open, not at the first batch

    @abstractmethod
    def insert_new(self, tx: Tx, rows: Sequence[Sequence[object]]) -> list[object]:
        """Insert `requests` rows (id first, in `COLUMNS` order) whose id is not there yet;
        return the ids actually inserted."""

    def migrate(self) -> list[str]:
        return migrate(self._writer)

    def insert_batch(self, records: Sequence[LedgerRecord], /) -> int:
        unique: dict[str, LedgerRecord] = {}
        for r in records:
            unique.setdefault(r.id, r)
        if not unique:
            return 0
        batch = list(unique.values())
        with self._writer.transaction() as tx:
            inserted = set(self.insert_new(tx, [record_values(r) for r in batch]))
            new = [r for r in batch if r.id in inserted]
            if new:
                rollups.add(tx, self.param, new)
                charges.charge_recorded(tx, new)
                signals.insert(tx, [signal_values(r) for r in new if r.signals is not None])
        return len(inserted)

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self._reader.rows(sql, params)

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

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
