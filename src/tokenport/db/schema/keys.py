"""API keys and their credit (`security/keys.py`). Money is integer nano-USD."""

from __future__ import annotations

from tokenport.db.migration import Migration

API_KEYS = Migration(
    "k001_api_keys",
    (
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION,
            revoked_at DOUBLE PRECISION,
            credit_limit_nano BIGINT,
            usage_nano BIGINT NOT NULL DEFAULT 0,
            reserved_nano BIGINT NOT NULL DEFAULT 0,
            allowed_models TEXT,
            rpm INTEGER,
            tpm INTEGER,
            country TEXT
        )""",
    ),
)

# Requests the gateway charged to their key before the ledger stored them: the ledger skips
# (and deletes) these when it inserts the request, so each charge lands once
# (`ledger/charges.py`).
KEY_SETTLEMENTS = Migration(
    "k003_key_settlements",
    (
        """CREATE TABLE key_settlements (
            id TEXT PRIMARY KEY,
            settled_at DOUBLE PRECISION NOT NULL
        )""",
    ),
)
