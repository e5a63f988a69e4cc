"""Where ledger records end up: `open_store`, which picks a `LedgerStore` (`base.py`) by URL.

Stores are synchronous on purpose. The ledger calls them from its own threads, in batches, off
the request path, so an async driver would buy nothing and would force two copies of the SQL
logic. Every store raises `ServiceUnavailable` when its database cannot be reached or used;
the writer treats that as "keep the records in the journal and retry later".
"""

from __future__ import annotations

from tokenport.db.url import parse_url
from tokenport.ledger.base import ROLLUP_KEYS, GroupBy, LedgerStore, UsageRow
from tokenport.ledger.store_postgres import PostgresStore
from tokenport.ledger.store_sqlite import SqliteStore

__all__ = ["ROLLUP_KEYS", "GroupBy", "LedgerStore", "UsageRow", "open_store"]


def open_store(database_url: str) -> LedgerStore:
    """Open the store a database URL names (see `tokenport.db.url` for the forms)."""
    url = parse_url(database_url)
    if url.dialect == "sqlite":
        return SqliteStore(url)
    return PostgresStore(url)
