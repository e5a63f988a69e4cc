"""The rollups a batch of new records adds to: hourly, daily, and one narrow table per ranking
dimension (model, app, key), all in the batch's own transaction.

Python sums the batch once into hourly deltas, one row per rollup key (so no upsert touches
the same row twice in one statement, which PostgreSQL rejects). The deltas go into a
temporary table, and one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT` per rollup table
folds them in, the database doing the grouping. On PostgreSQL that is one COPY and five
statements per batch: per-row upserts from Python (or the triggers that kept the narrow
tables before) halved the insert rate there. On SQLite the fold costs about what the triggers
did (bench/ledger_insert_cost.py). The daily and narrow tables are sums of the same hourly
deltas, so each stays equal to `rollup_hourly` grouped by its day or dimension.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenport.db import Tx
from tokenport.db.schema.analytics import DIMENSIONS, SUMS
from tokenport.db.schema.rollups import FLOAT_SUMS, KEY_COLUMNS, SUM_COLUMNS
from tokenport.ledger.record import LedgerRecord

Row = tuple[object, ...]
_DELTAS = "_rollup_deltas"
_COLUMNS = ("hour", *KEY_COLUMNS, *SUM_COLUMNS)
_CREATE = {
    # Per connection, so made once; emptied by each batch (PostgreSQL: at commit).
    "sqlite": f"CREATE TEMP TABLE IF NOT EXISTS {_DELTAS} AS SELECT {', '.join(_COLUMNS)} "
    "FROM rollup_hourly WHERE 1 = 0",
    "postgres": f"CREATE TEMP TABLE IF NOT EXISTS {_DELTAS} (LIKE rollup_hourly) "
    "ON COMMIT DELETE ROWS",
}


def rollup_deltas(records: Iterable[LedgerRecord]) -> list[Row]:
    """One row of summed deltas per hourly rollup key, in `rollup_hourly`'s column order."""
    sums: dict[Row, list[float]] = {}
    for r in records:
        bucket = int(r.ts // 3600) * 3600
        key = (bucket, r.model_served or "", r.provider or "", r.key_id or "", r.app or "")
        acc = sums.setdefault(key, [0.0] * len(SUM_COLUMNS))
        n = r.request_count
        delta = (
            n,
            n if r.status != "ok" else 0,
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
        (*key, *(v if c in FLOAT_SUMS else int(v) for c, v in zip(SUM_COLUMNS, acc, strict=True)))
        for key, acc in sums.items()
    ]


def add(tx: Tx, param: str, records: Sequence[LedgerRecord]) -> None:
    """Add `records`, all new to `requests`, to every rollup table."""
    deltas = rollup_deltas(records)
    tx.run(_CREATE[tx.dialect])
    if tx.dialect == "postgres":
        tx.copy(f"COPY {_DELTAS} ({', '.join(_COLUMNS)}) FROM STDIN", deltas)
    else:
        marks = ", ".join([param] * len(_COLUMNS))
        tx.many(f"INSERT INTO {_DELTAS} ({', '.join(_COLUMNS)}) VALUES ({marks})", deltas)
    for sql in _FOLDS:
        tx.run(sql)
    if tx.dialect == "sqlite":
        tx.run(f"DELETE FROM {_DELTAS}")


def _fold(
    table: str, keys: Sequence[tuple[str, str]], sums: Sequence[str], *, grouped: bool = True
) -> str:
    """Upsert the deltas, grouped by `keys` ((column, expression over the deltas) pairs).

    `grouped=False` for the hourly table, whose keys the deltas already have unique: no sort.
    (`WHERE 1 = 1` there: SQLite would read `FROM t ON CONFLICT` as a join's ON.)
    """
    columns = [k for k, _ in keys] + list(sums)
    sums_sql = [f"SUM({c})" for c in sums] if grouped else list(sums)
    selected = [e for _, e in keys] + sums_sql
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    tail = f"GROUP BY {groups}" if grouped else "WHERE 1 = 1"
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selected)} "
        f"FROM {_DELTAS} {tail} "
        f"ON CONFLICT ({', '.join(k for k, _ in keys)}) DO UPDATE SET {updates}"
    )


_KEYS = [(k, k) for k in KEY_COLUMNS]
_FOLDS: tuple[str, ...] = (
    _fold("rollup_hourly", [("hour", "hour"), *_KEYS], SUM_COLUMNS, grouped=False),
    _fold("rollup_daily", [("day", "(hour / 86400) * 86400"), *_KEYS], SUM_COLUMNS),
    *(_fold(t, [("hour", "hour"), (c, c)], SUMS) for t, c in DIMENSIONS.values()),
)
