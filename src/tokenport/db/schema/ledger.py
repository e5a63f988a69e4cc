"""The ledger's `requests` table: one row per request, as `LedgerRecord` has it.

Type names are chosen so both databases read them right: `BIGINT` is a 64-bit integer in both;
`DOUBLE PRECISION` is an 8-byte float in both, where PostgreSQL's `REAL` would be 4 bytes;
`BOOLEAN` takes 0/1 in SQLite and true/false in PostgreSQL.
"""

from __future__ import annotations

from tokenport.db.migration import Migration

REQUESTS = Migration(
    "m001_requests",
    (
        """CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            ts DOUBLE PRECISION NOT NULL,
            model_requested TEXT NOT NULL,
            status TEXT NOT NULL,
            key_id TEXT,
            app TEXT,
            model_served TEXT,
            provider TEXT,
            region TEXT,
            prompt_tokens BIGINT NOT NULL DEFAULT 0,
            completion_tokens BIGINT NOT NULL DEFAULT 0,
            cached_tokens BIGINT NOT NULL DEFAULT 0,
            cache_write_tokens BIGINT NOT NULL DEFAULT 0,
            reasoning_tokens BIGINT NOT NULL DEFAULT 0,
            cost DOUBLE PRECISION NOT NULL DEFAULT 0,
            upstream_cost DOUBLE PRECISION,
            latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
            ttft_ms DOUBLE PRECISION,
            error_class TEXT,
            usage_estimated BOOLEAN NOT NULL DEFAULT FALSE,
            finish_reason TEXT,
            stream BOOLEAN NOT NULL DEFAULT FALSE,
            http_status INTEGER NOT NULL DEFAULT 200,
            attempts TEXT NOT NULL DEFAULT '[]',
            energy_wh DOUBLE PRECISION,
            energy_cost DOUBLE PRECISION
        )""",
        "CREATE INDEX requests_ts ON requests (ts)",
        "CREATE INDEX requests_key_ts ON requests (key_id, ts)",
    ),
)

# Which front door (chat, messages, responses, completions, embeddings) each request came
# through; earlier rows were all Chat Completions.
REQUESTS_DOOR = Migration(
    "m004_request_door",
    ("ALTER TABLE requests ADD COLUMN door TEXT NOT NULL DEFAULT 'chat'",),
)

# What a request's plugins did (`tokenport.plugins`), as JSON; NULL when it named none.
REQUESTS_PLUGINS = Migration(
    "m006_request_plugins",
    ("ALTER TABLE requests ADD COLUMN plugins TEXT",),
)

# Answers the response cache served (`tokenport.cache`): no upstream call, no tokens
# processed; `cost_saved` is what the upstream would have cost.
REQUESTS_CACHE = Migration(
    "m005_request_cache",
    (
        "ALTER TABLE requests ADD COLUMN cache_hit BOOLEAN NOT NULL DEFAULT FALSE",
        "ALTER TABLE requests ADD COLUMN cost_saved DOUBLE PRECISION",
    ),
)

# Refused requests get a record too (`api/refusals.py`): the refusal's code, the client's
# /24 or /48 prefix, and how many requests the record stands for (1, or more where a flood
# of refusals beyond `refusal_records_per_s` was folded into one record).
REQUESTS_REFUSALS = Migration(
    "m006_request_refusals",
    (
        "ALTER TABLE requests ADD COLUMN error_code TEXT",
        "ALTER TABLE requests ADD COLUMN client_prefix TEXT",
        "ALTER TABLE requests ADD COLUMN request_count BIGINT NOT NULL DEFAULT 1",
    ),
)
