"""Narrow hourly rollups, one table per ranking dimension, for rankings and the dashboard.

`rollup_hourly` is keyed by (hour, model, provider, key, app), so with many keys it barely
compresses the traffic (10M synthetic requests leave ~1M rollup rows) and a ranking that scans
it takes seconds. Rankings need one dimension at a time, so each gets its own table keyed by
(hour, dimension): a week of the 10M-request ledger is a few thousand rows.

The ledger keeps these tables in its batch insert (`ledger.rollups`), beside the hourly and
daily rollups. Until a002 they were kept by triggers on `rollup_hourly`, which added 35-70% to
the ledger's insert cost; a002 drops them from databases that have them.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenport.db.migration import Migration
from tokenport.db.url import Dialect

# dimension name -> (table, key column in rollup_hourly)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "model": ("rollup_model_hourly", "model_served"),
    "app": ("rollup_app_hourly", "app"),
    "key": ("rollup_key_hourly", "key_id"),
}
SUMS: tuple[str, ...] = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms_sum",
)
FLOAT_SUMS = frozenset({"cost", "latency_ms_sum"})


def _create_tables(dialect: Dialect) -> list[str]:
    # SQLite: WITHOUT ROWID clusters rows by (hour, value), so a window is one contiguous read.
    suffix = " WITHOUT ROWID" if dialect == "sqlite" else ""
    statements: list[str] = []
    for table, column in DIMENSIONS.values():
        sums = ",\n".join(
            f"{c} {'DOUBLE PRECISION' if c in FLOAT_SUMS else 'BIGINT'} NOT NULL DEFAULT 0"
            for c in SUMS
        )
        statements.append(
            f"CREATE TABLE {table} (hour BIGINT NOT NULL, {column} TEXT NOT NULL DEFAULT '',"
            f"\n{sums},\nPRIMARY KEY (hour, {column})){suffix}"
        )
    return statements


def _backfill() -> list[str]:
    sums = ", ".join(f"SUM({c})" for c in SUMS)
    return [
        f"INSERT INTO {table} (hour, {column}, {', '.join(SUMS)}) "
        f"SELECT hour, {column}, {sums} FROM rollup_hourly GROUP BY hour, {column}"
        for table, column in DIMENSIONS.values()
    ]


def _dimensions(dialect: Dialect) -> Sequence[str]:
    # The lock keeps a writer that is not taking part in this migration from landing rows
    # between the backfill and the commit. (Before a002 this step also created the triggers;
    # a002 drops them, so a database made now ends the same as one made then.)
    pg = dialect == "postgres"
    lock = ["LOCK TABLE rollup_hourly IN SHARE ROW EXCLUSIVE MODE"] if pg else []
    # Fresh statistics, or PostgreSQL plans the first queries for empty tables.
    analyze = [f"ANALYZE {table}" for table, _ in DIMENSIONS.values()]
    return [*lock, *_create_tables(dialect), *_backfill(), *analyze]


def _drop_triggers(dialect: Dialect) -> Sequence[str]:
    if dialect == "postgres":
        return [
            "DROP TRIGGER IF EXISTS tp_rollup_dims ON rollup_hourly",
            "DROP FUNCTION IF EXISTS tp_rollup_dims()",
        ]
    return [f"DROP TRIGGER IF EXISTS rollup_dims_{e}" for e in ("insert", "update", "delete")]


ROLLUP_DIMENSIONS = Migration("a001_rollup_dimensions", _dimensions)
DROP_TRIGGERS = Migration("a002_rollup_dimensions_without_triggers", _drop_triggers)
