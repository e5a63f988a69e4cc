"""The one schema: every table tokenport keeps, as one ordered list of named migrations.

Each area contributes its migrations from its own module here (ledger, rollups, keys, holds,
analytics); `MIGRATIONS` is the order they run in on a new database. On an existing database
`tokenport.db.migrate` runs the ones not yet recorded in `_migrations`, in this order.

To add one, e.g. a column on `requests`:

    # db/schema/ledger.py
    REQUESTS_DOOR = Migration("m004_requests_door", ("ALTER TABLE requests ADD COLUMN door TEXT",))

then append `ledger.REQUESTS_DOOR` at the end of `MIGRATIONS`. Rules:
- append only; never edit, rename or reorder a migration that has shipped;
- a name is unique, prefixed by its area's letter (m ledger, k keys, a analytics,
  r stored responses, x abuse, w workspaces and budgets);
- SQL portable between SQLite and PostgreSQL (`BIGINT`, `DOUBLE PRECISION`, `TEXT`,
  `BOOLEAN`); where it cannot be, give a function of the dialect (see `analytics.py`).
"""

from __future__ import annotations

from tokenport.db.migration import Migration
from tokenport.db.schema import (
    abuse,
    analytics,
    company,
    holds,
    keys,
    ledger,
    responses,
    rollups,
)

MIGRATIONS: tuple[Migration, ...] = (
    ledger.REQUESTS,
    rollups.HOURLY,
    rollups.DAILY,
    keys.API_KEYS,
    holds.KEY_HOLDS,
    analytics.ROLLUP_DIMENSIONS,
    analytics.DROP_TRIGGERS,
    keys.KEY_SETTLEMENTS,
    ledger.REQUESTS_DOOR,
    responses.RESPONSES,
    ledger.REQUESTS_CACHE,
    abuse.REQUEST_SIGNALS,
    abuse.KEY_ORIGIN,
    abuse.ABUSE_ACTIONS,
    abuse.ABUSE_DAYS,
    ledger.REQUESTS_PLUGINS,
    company.WORKSPACES,
    company.BUDGETS,
    company.AUDIT,
    company.GUARDRAILS,
    ledger.REQUESTS_REFUSALS,
)
