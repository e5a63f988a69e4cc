"""Write the databases that tokenport at commit 4767535 made, as SQL dumps, for the upgrade test.

Run it with that commit's code, not this one's (it uses the APIs of the time):

    git archive 4767535 src | tar -x -C /tmp/tp_old
    PYTHONPATH=/tmp/tp_old/src python tests/db/make_old_fixtures.py tests/db/fixtures

Two databases per dialect, both written only by the old code:
- `full`: ledger, keys (one key with usage and a hold), analytics' narrow rollups with their
  triggers; records written before (backfilled) and after (triggers) analytics' migration;
- `ledger_only`: what a gateway left when the dashboard was never opened: the ledger
  migrations, records, no key table, no analytics tables.

SQLite dumps come from `iterdump()`; PostgreSQL ones from `pg_dump --inserts`, with the scratch
schema's name replaced by `__SCHEMA__`. Both gzipped (`zcat` to read them).
"""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

from tokenport.analytics import rollups
from tokenport.lab import synth
from tokenport.ledger import open_store
from tokenport.security.keystore import KeyStore

PG = "postgresql://postgres@127.0.0.1:5432/test"
END = 1_760_000_000.0
KEY_NAME = "old-key"
PG_DUMP = (
    "pg_dump",
    "--no-owner",
    "--no-privileges",
    "--inserts",
    "-h",
    "127.0.0.1",
    "-U",
    "postgres",
)


def fill(url: str, scenario: str) -> None:
    records = synth.records(60, seed=7, days=3, end=END)
    store = open_store(url)
    try:
        store.migrate()
        store.insert_batch(records[:30])
        if scenario == "ledger_only":
            store.insert_batch(records[30:])
            return
        keys = KeyStore(url)
        key = keys.create(KEY_NAME, credit_limit_usd=1.0).key
        assert keys.reserve(key.id, 5_000_000) and keys.reserve(key.id, 3_000_000)
        keys.settle(key.id, 5_000_000, 1_234_567)  # one settled, one still held
        keys.close()
        assert rollups.ensure(url) == ["a001_rollup_dimensions"]  # backfills the first 30
        store.insert_batch(records[30:])  # the triggers count these
    finally:
        store.close()


def dump_sqlite(scenario: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/old.db"
        fill(f"sqlite:///{path}", scenario)
        conn = sqlite3.connect(path)
        text = "\n".join(conn.iterdump()) + "\n"
        conn.close()
    (out / f"{scenario}.sqlite.sql.gz").write_bytes(gzip.compress(text.encode(), mtime=0))


def dump_postgres(scenario: str, out: Path) -> None:
    schema = f"tp_old_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            fill(f"{PG}?options=-csearch_path%3D{schema}", scenario)
            text = subprocess.run(
                [*PG_DUMP, "--schema", schema, "test"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    lines = [
        line
        for line in text.splitlines()
        # psql meta-commands (\\restrict) and the schema itself are the loader's business
        if not line.startswith(("\\", "CREATE SCHEMA", "SELECT pg_catalog.set_config"))
    ]
    text = "\n".join(lines).replace(schema, "__SCHEMA__") + "\n"
    (out / f"{scenario}.postgres.sql.gz").write_bytes(gzip.compress(text.encode(), mtime=0))


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for scenario in ("full", "ledger_only"):
        dump_sqlite(scenario, out)
        dump_postgres(scenario, out)


if __name__ == "__main__":
    main()
