"""Stored OpenAI Responses answers (`store: true`, `previous_response_id`): one row each,
scoped to the key that made it ('' for anonymous callers) and kept until `expires_at`."""

from __future__ import annotations

from tokenport.db.migration import Migration

RESPONSES = Migration(
    "r001_responses",
    (
        """CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            key_id TEXT NOT NULL DEFAULT '',
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            response TEXT NOT NULL,
            conversation TEXT NOT NULL
        )""",
        "CREATE INDEX responses_expires ON responses (expires_at)",
    ),
)
