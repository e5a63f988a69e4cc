"""tokenport's one database layer: URLs, connections, transactions, locks and the schema.

    url.py        `parse_url`: sqlite:///, postgresql://, postgres:// (and plain paths)
    database.py   `Database`: one connection (read-only or read-write), `transaction()`,
                  advisory locks; every driver error becomes `ServiceUnavailable` here
    migration.py  `Migration`: one named schema step
    schema/       the one ordered list of migrations, one module per area
    migrate.py    `migrate(db)`: apply what `_migrations` does not record yet

The ledger stores, the key store (keys and holds) and analytics all open their connections
here. The SQL of each area (what it reads and writes) stays in that area.
"""

from tokenport.db.database import BUSY_TIMEOUT_S, VALUE_ERRORS, Database, Rows, Tx
from tokenport.db.migrate import MIGRATION_LOCK, applied, migrate
from tokenport.db.migration import Migration
from tokenport.db.schema import MIGRATIONS
from tokenport.db.url import DatabaseUrl, Dialect, parse_url

__all__ = [
    "BUSY_TIMEOUT_S",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "VALUE_ERRORS",
    "Database",
    "DatabaseUrl",
    "Dialect",
    "Migration",
    "Rows",
    "Tx",
    "applied",
    "migrate",
    "parse_url",
]
