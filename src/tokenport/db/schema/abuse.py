"""The abuse defense's tables (`security/abuse`): per-request signals, each key's origin,
the actions taken on keys, and the scan's per-day cache. Area letter: x (extraction)."""

from __future__ import annotations

from tokenport.db.migration import Migration
from tokenport.db.url import Dialect


def _signals(dialect: Dialect) -> list[str]:
    # SQLite: WITHOUT ROWID keeps one b-tree (by id) instead of a rowid table plus its key.
    suffix = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        """CREATE TABLE request_signals (
            id TEXT PRIMARY KEY,
            ts DOUBLE PRECISION NOT NULL,
            key_id TEXT,
            door TEXT NOT NULL DEFAULT 'chat',
            status TEXT NOT NULL DEFAULT 'ok',
            prompt_tokens BIGINT NOT NULL DEFAULT 0,
            completion_tokens BIGINT NOT NULL DEFAULT 0,
            model TEXT,
            ip TEXT NOT NULL DEFAULT '',
            prefix TEXT NOT NULL DEFAULT '',
            ua BIGINT NOT NULL DEFAULT 0,
            system BIGINT NOT NULL DEFAULT 0,
            prompt_a BIGINT NOT NULL DEFAULT 0,
            prompt_b BIGINT NOT NULL DEFAULT 0,
            template_a BIGINT NOT NULL DEFAULT 0,
            template_b BIGINT NOT NULL DEFAULT 0,
            template BIGINT NOT NULL DEFAULT 0,
            chars BIGINT NOT NULL DEFAULT 0,
            context_chars BIGINT NOT NULL DEFAULT 0,
            max_tokens BIGINT NOT NULL DEFAULT 0,
            cot INTEGER NOT NULL DEFAULT 0,
            tools INTEGER NOT NULL DEFAULT 0,
            tool_turns INTEGER NOT NULL DEFAULT 0,
            depth INTEGER NOT NULL DEFAULT 0,
            topic INTEGER NOT NULL DEFAULT 0,
            shape BIGINT NOT NULL DEFAULT 0,
            text TEXT
        )"""
        + suffix,
        "CREATE INDEX request_signals_ts ON request_signals (ts)",
    ]


# One row per request that reached the gateway's edge; ledger/signals.py has the fields.
REQUEST_SIGNALS = Migration("x001_request_signals", _signals)

# Which call created each key (the admin API, the CLI, the simulator), from which address.
KEY_ORIGIN = Migration(
    "x002_key_origin",
    (
        "ALTER TABLE api_keys ADD COLUMN created_via TEXT",
        "ALTER TABLE api_keys ADD COLUMN created_ip TEXT",
    ),
)

# Every action taken on a key, with its evidence; `reversed_at` set when an admin undoes it.
ABUSE_ACTIONS = Migration(
    "x003_abuse_actions",
    (
        """CREATE TABLE abuse_actions (
            id TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            action TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            cluster TEXT,
            reasons TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            created_by TEXT NOT NULL,
            reversed_at DOUBLE PRECISION,
            reversed_by TEXT,
            note TEXT
        )""",
        "CREATE INDEX abuse_actions_key ON abuse_actions (key_id, created_at)",
    ),
)

# The scan's summary of each finished day, so a scan reads only the days it has not seen.
ABUSE_DAYS = Migration(
    "x004_abuse_days",
    (
        """CREATE TABLE abuse_days (
            day BIGINT NOT NULL,
            version INTEGER NOT NULL,
            records BIGINT NOT NULL,
            summary TEXT NOT NULL,
            PRIMARY KEY (day, version)
        )""",
    ),
)
