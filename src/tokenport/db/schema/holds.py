"""Who holds each credit reservation (`security/holds.py` says why and how it is swept)."""

from __future__ import annotations

from tokenport.db.migration import Migration

KEY_HOLDS = Migration(
    "k002_key_holds",
    (
        """CREATE TABLE key_holders (
            holder TEXT PRIMARY KEY,
            seen_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE key_holds (
            holder TEXT NOT NULL,
            key_id TEXT NOT NULL,
            reserved_nano BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (holder, key_id)
        )""",
    ),
)
