"""The narrow per-dimension rollups that rankings read, and `ensure`, which migrates them in.

The tables are defined in `db/schema/analytics.py` and kept by the ledger's batch insert
(`ledger/rollups.py`), beside the hourly and daily rollups; analytics only reads them.
"""

from __future__ import annotations

from tokenport.db import Database, migrate
from tokenport.db.schema.analytics import DIMENSIONS, SUMS

__all__ = ["DIMENSIONS", "SUMS", "ensure"]


def ensure(url: str) -> list[str]:
    """Bring the database up to the current schema; return the migrations applied now.

    For a ledger written before the narrow tables existed: their migration backfills them.
    """
    db = Database(url, readonly=False)
    try:
        return migrate(db)
    finally:
        db.close()
