"""Named, ordered migrations, recorded in `_migrations` (as simonw/llm does).

`migrate(db)` applies, in order, every migration of `schema.MIGRATIONS` whose name is not
recorded yet, all in one transaction: a failure leaves nothing half done. Replicas starting
together take turns on one advisory lock (SQLite: on the write lock), so each migration runs
once and the rest find nothing left to do.

To add a migration, see `tokenport.db.schema`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from tokenport.db.database import Database
from tokenport.db.migration import Migration
from tokenport.db.schema import MIGRATIONS

# Any constant works; it only has to be the same for every replica. It is the one the ledger
# used before the database layer was one, so that old and new replicas also take turns.
MIGRATION_LOCK = 0x746F6B656E706F72

_TABLE = """CREATE TABLE IF NOT EXISTS _migrations (
    name TEXT PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""


def applied(db: Database) -> set[str]:
    """The names recorded in `_migrations` (empty for a database never migrated)."""
    if not db.table_exists("_migrations"):
        return set()
    return {row[0] for row in db.rows("SELECT name FROM _migrations")}


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded, in order; return the names applied now."""
    p = db.param
    with db.transaction(lock=MIGRATION_LOCK) as tx:
        if db.dialect == "postgres":
            # A backfill over a big ledger may take minutes; the usual bound is for requests.
            tx.run("SET LOCAL statement_timeout = 0")
        tx.run(_TABLE)
        done_before = {row[0] for row in tx.rows("SELECT name FROM _migrations")}
        done: list[str] = []
        for migration in migrations:
            if migration.name in done_before:
                continue
            for statement in migration.sql(db.dialect):
                tx.run(statement)
            tx.run(
                f"INSERT INTO _migrations (name, applied_at) VALUES ({p}, {p})",
                (migration.name, time.time()),
            )
            done.append(migration.name)
    return done
