"""The SQLite ledger store: stdlib sqlite3 through `tokenport.db` (WAL, synchronous=FULL).

The writer is used only from the ledger's single DB thread (its lock makes other callers,
such as `synth.fill`, safe too); reads get their own connection, and WAL lets them run beside
a batch commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenport.db import DatabaseUrl, Tx
from tokenport.ledger.sql import SqlStore, insert_sql

_IN_CHUNK = 500  # ids per `IN (...)` lookup, well under SQLite's bound-parameter limit


class SqliteStore(SqlStore):
    def __init__(self, url: DatabaseUrl) -> None:
        self.path = url.target
        super().__init__(url)

    def insert_new(self, tx: Tx, rows: Sequence[Sequence[object]]) -> list[object]:
        # sqlite3's executemany refuses RETURNING, and one execute per row costs more than
        # the rest of a batch. The transaction holds the write lock (BEGIN IMMEDIATE), so
        # reading which ids exist and then inserting in one executemany has the same outcome.
        ids = [row[0] for row in rows]
        existing: set[object] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            found = tx.rows(f"SELECT id FROM requests WHERE id IN ({marks})", chunk)
            existing.update(r[0] for r in found)
        tx.many(insert_sql("?"), rows)
        return [i for i in ids if i not in existing]
