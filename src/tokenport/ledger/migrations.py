"""The ledger schema as named, ordered migrations, recorded in `_migrations` (as simonw/llm does).

Append new migrations at the end; never edit or reorder one that has shipped. The SQL is
portable between SQLite and PostgreSQL: type names are chosen so both read them right
(`BIGINT` is a 64-bit integer in both; `DOUBLE PRECISION` is an 8-byte float in both, where
PostgreSQL's `REAL` would be 4 bytes; `BOOLEAN` takes 0/1 in SQLite and true/false in
PostgreSQL). The one dialect difference, the query placeholder, is passed in.

Rollup key columns are NOT NULL with '' standing for "none": a unique key treats NULLs as
distinct in both databases, so NULL keys would defeat the `ON CONFLICT` upsert.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

Run = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]


class Migration(NamedTuple):
    name: str
    statements: tuple[str, ...]


def _rollup_table(name: str, bucket: str) -> str:
    """Hourly and daily rollups share one shape: a time bucket, the keys, the sums."""
    return f"""CREATE TABLE {name} (
                {bucket} BIGINT NOT NULL,
                model_served TEXT NOT NULL DEFAULT '',
                provider TEXT NOT NULL DEFAULT '',
                key_id TEXT NOT NULL DEFAULT '',
                app TEXT NOT NULL DEFAULT '',
                requests BIGINT NOT NULL DEFAULT 0,
                errors BIGINT NOT NULL DEFAULT 0,
                prompt_tokens BIGINT NOT NULL DEFAULT 0,
                completion_tokens BIGINT NOT NULL DEFAULT 0,
                cached_tokens BIGINT NOT NULL DEFAULT 0,
                cache_write_tokens BIGINT NOT NULL DEFAULT 0,
                reasoning_tokens BIGINT NOT NULL DEFAULT 0,
                cost DOUBLE PRECISION NOT NULL DEFAULT 0,
                latency_ms_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
                ttft_ms_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
                ttft_count BIGINT NOT NULL DEFAULT 0,
                energy_wh DOUBLE PRECISION NOT NULL DEFAULT 0,
                PRIMARY KEY ({bucket}, model_served, provider, key_id, app)
            )"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
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
    ),
    Migration(
        "m002_rollup_hourly",
        (
            _rollup_table("rollup_hourly", "hour"),
            "CREATE INDEX rollup_hourly_key ON rollup_hourly (key_id, hour)",
        ),
    ),
    # Day-aligned reports (`tokenport usage`) read ~24x fewer rows here than in the hourly
    # table: on a 10M-request ledger, 30 days by key, model and day went from seconds to
    # well under the 200 ms target. Backfilled from the hourly rollups it summarises.
    Migration(
        "m003_rollup_daily",
        (
            _rollup_table("rollup_daily", "day"),
            "CREATE INDEX rollup_daily_key ON rollup_daily (key_id, day)",
            """INSERT INTO rollup_daily
                SELECT (hour / 86400) * 86400, model_served, provider, key_id, app,
                       SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens),
                       SUM(cached_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),
                       SUM(cost), SUM(latency_ms_sum), SUM(ttft_ms_sum), SUM(ttft_count),
                       SUM(energy_wh)
                FROM rollup_hourly
                GROUP BY (hour / 86400) * 86400, model_served, provider, key_id, app""",
        ),
    ),
    # Which front door (chat, messages, responses, ...) each request came through.
    Migration(
        "m004_request_door",
        ("ALTER TABLE requests ADD COLUMN door TEXT NOT NULL DEFAULT 'chat'",),
    ),
)

_TABLE = """CREATE TABLE IF NOT EXISTS _migrations (
    name TEXT PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""


def migrate(run: Run, param: str, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded, in order; return their names.

    The caller runs this inside one transaction (and holds the dialect's migration lock), so
    replicas starting together apply each migration once and a failure leaves nothing half done.
    """
    run(_TABLE, ())
    applied = {row[0] for row in run("SELECT name FROM _migrations", ())}
    done: list[str] = []
    for migration in migrations:
        if migration.name in applied:
            continue
        for statement in migration.statements:
            run(statement, ())
        run(
            f"INSERT INTO _migrations (name, applied_at) VALUES ({param}, {param})",
            (migration.name, time.time()),
        )
        done.append(migration.name)
    return done
