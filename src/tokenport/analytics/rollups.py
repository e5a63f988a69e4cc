"""Narrow hourly rollups per ranking dimension, kept in step with `rollup_hourly` by triggers.

Why: `rollup_hourly` is keyed by (hour, model, provider, key, app), so with many keys it barely
compresses the traffic (10M synthetic requests leave ~1M rollup rows) and a ranking that scans
it takes seconds. Rankings need one dimension at a time, so each gets its own table keyed by
(hour, dimension): a week of the 10M-request ledger is a few thousand rows.

Why triggers: they keep the narrow tables exact in the ledger's own transaction, for every
writer (gateway replicas, `synth.fill`, a journal replay) without touching the ledger's code,
in both SQLite and PostgreSQL. Keys of `rollup_hourly` never change (they are its primary key),
so an UPDATE applies NEW - OLD at NEW's keys. The migration backfills from `rollup_hourly`
while holding the write lock, so no row is counted twice or missed.

If the ledger later maintains these tables itself in `insert_batch`, drop the triggers in a new
migration; readers (`source.py`) do not change.
"""

from __future__ import annotations

from typing import Any

from tokenport.analytics.db import Database, Dialect
from tokenport.ledger.migrations import Migration, migrate
from tokenport.ledger.store import open_store

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
_FLOATS = frozenset({"cost", "latency_ms_sum"})
_PG_LOCK = 0x74705F616E616C79  # any constant, the same for every replica


def _create_tables(dialect: Dialect) -> tuple[str, ...]:
    # SQLite: WITHOUT ROWID clusters rows by (hour, value), so a window is one contiguous read.
    suffix = " WITHOUT ROWID" if dialect == "sqlite" else ""
    statements: list[str] = []
    for table, column in DIMENSIONS.values():
        sums = ",\n".join(
            f"{c} {'DOUBLE PRECISION' if c in _FLOATS else 'BIGINT'} NOT NULL DEFAULT 0"
            for c in SUMS
        )
        statements.append(
            f"CREATE TABLE {table} (hour BIGINT NOT NULL, {column} TEXT NOT NULL DEFAULT '',"
            f"\n{sums},\nPRIMARY KEY (hour, {column})){suffix}"
        )
    return tuple(statements)


def _upsert(table: str, column: str, keys: str, values: list[str], alias: str = "") -> str:
    into = f"{table} AS t" if alias else table
    target = "t" if alias else table
    updates = ", ".join(f"{c} = {target}.{c} + excluded.{c}" for c in SUMS)
    return (
        f"INSERT INTO {into} (hour, {column}, {', '.join(SUMS)}) "
        f"VALUES ({keys}.hour, {keys}.{column}, {', '.join(values)}) "
        f"ON CONFLICT (hour, {column}) DO UPDATE SET {updates}"
    )


def _sqlite_triggers() -> tuple[str, ...]:
    cases = {
        "INSERT": ("NEW", [f"NEW.{c}" for c in SUMS]),
        "UPDATE": ("NEW", [f"NEW.{c} - OLD.{c}" for c in SUMS]),
        "DELETE": ("OLD", [f"-OLD.{c}" for c in SUMS]),
    }
    statements = []
    for event, (keys, values) in cases.items():
        body = ";\n".join(_upsert(t, c, keys, values) for t, c in DIMENSIONS.values())
        statements.append(
            f"CREATE TRIGGER rollup_dims_{event.lower()} AFTER {event} ON rollup_hourly "
            f"BEGIN\n{body};\nEND"
        )
    return tuple(statements)


def _pg_trigger() -> tuple[str, ...]:
    negate = "\n".join(f"    d.{c} := -OLD.{c};" for c in SUMS)
    delta = "\n".join(f"      d.{c} := NEW.{c} - OLD.{c};" for c in SUMS)
    values = [f"d.{c}" for c in SUMS]
    upserts = ";\n  ".join(_upsert(t, c, "d", values, alias="t") for t, c in DIMENSIONS.values())
    function = f"""CREATE OR REPLACE FUNCTION tp_rollup_dims() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  d rollup_hourly;
BEGIN
  IF TG_OP = 'DELETE' THEN
    d := OLD;
{negate}
  ELSE
    d := NEW;
    IF TG_OP = 'UPDATE' THEN
{delta}
    END IF;
  END IF;
  {upserts};
  RETURN NULL;
END
$fn$"""
    trigger = (
        "CREATE TRIGGER tp_rollup_dims AFTER INSERT OR UPDATE OR DELETE ON rollup_hourly "
        "FOR EACH ROW EXECUTE FUNCTION tp_rollup_dims()"
    )
    return (function, trigger)


def _backfill() -> tuple[str, ...]:
    sums = ", ".join(f"SUM({c})" for c in SUMS)
    return tuple(
        f"INSERT INTO {table} (hour, {column}, {', '.join(SUMS)}) "
        f"SELECT hour, {column}, {sums} FROM rollup_hourly GROUP BY hour, {column}"
        for table, column in DIMENSIONS.values()
    )


def migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """Analytics' migrations, recorded in the ledger's `_migrations` table (names `a...`)."""
    # Taking the write lock first means no ledger write lands between backfill and trigger.
    pg = dialect == "postgres"
    lock = ("LOCK TABLE rollup_hourly IN SHARE ROW EXCLUSIVE MODE",) if pg else ()
    triggers = _pg_trigger() if pg else _sqlite_triggers()
    # Fresh statistics, or PostgreSQL plans the first queries for empty tables.
    analyze = tuple(f"ANALYZE {table}" for table, _ in DIMENSIONS.values())
    statements = (*lock, *_create_tables(dialect), *triggers, *_backfill(), *analyze)
    return (Migration("a001_rollup_dimensions", statements),)


def ensure(url: str) -> list[str]:
    """Migrate the ledger, then analytics' tables; return the analytics migrations applied."""
    store = open_store(url)
    try:
        store.migrate()
    finally:
        store.close()
    db = Database(url, readonly=False)
    try:
        with db.connection() as conn:
            return _apply(conn, db)
    finally:
        db.close()


def _apply(conn: Any, db: Database) -> list[str]:
    def run(sql: str, params: Any) -> list[tuple[Any, ...]]:
        cur = conn.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []

    if db.dialect == "postgres":
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
            return migrate(run, db.param, migrations("postgres"))
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = migrate(run, db.param, migrations("sqlite"))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return done
