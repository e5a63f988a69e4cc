"""Databases made by tokenport at commit 4767535 (three connection layers, four migration lists,
analytics triggers) upgrade cleanly to the one schema, on SQLite and PostgreSQL.

The fixtures are SQL dumps of databases that the old code itself wrote; `make_old_fixtures.py`
says how they were made.
"""

from __future__ import annotations

import gzip
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

import psycopg
import pytest

from _an_helpers import assert_narrow_tables_match
from conftest import PG_DSN
from tokenport.analytics import rollups
from tokenport.db import MIGRATIONS, Database, applied, migrate
from tokenport.lab import synth
from tokenport.ledger import open_store
from tokenport.security.keystore import KeyStore

pytestmark = pytest.mark.timeout(120)

FIXTURES = Path(__file__).parent / "fixtures"
OLD_RECORDS = 60
END = 1_760_000_000.0


def _load(url: str, scenario: str) -> None:
    db = Database(url)
    sql = gzip.decompress((FIXTURES / f"{scenario}.{db.dialect}.sql.gz").read_bytes()).decode()
    if db.dialect == "sqlite":
        lite = sqlite3.connect(db.url.target)
        lite.executescript(sql)
        lite.close()
        return
    schema = unquote(url).rpartition("search_path=")[2]
    with psycopg.connect(url.partition("?")[0], autocommit=True) as conn:
        conn.execute(sql.replace("__SCHEMA__", schema).encode())


@pytest.fixture(params=["full", "ledger_only"])
def old_db(request: pytest.FixtureRequest, db_url: str) -> tuple[str, str]:
    _load(db_url, request.param)
    return db_url, request.param


def _columns(db: Database) -> dict[str, list[tuple[str, str]]]:
    """Every table's columns and declared types: the schema as a reader sees it."""
    if db.dialect == "sqlite":
        tables = [r[0] for r in db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [(r[1], r[2]) for r in db.rows(f"PRAGMA table_info({t})")] for t in tables}
    rows = db.rows(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return out


def _triggers(db: Database) -> list[str]:
    if db.dialect == "sqlite":
        return [r[0] for r in db.rows("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    return [
        r[0]
        for r in db.rows(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    ] + [r[0] for r in db.rows("SELECT proname FROM pg_proc WHERE proname = 'tp_rollup_dims'")]


def _assert_in_step(db: Database, requests: int) -> None:
    assert db.rows("SELECT COUNT(*), (SELECT SUM(requests) FROM rollup_hourly) FROM requests")[
        0
    ] == (requests, requests)
    assert_narrow_tables_match(db, nonempty=True)


def test_an_old_database_upgrades(old_db: tuple[str, str], tmp_path: Path) -> None:
    url, scenario = old_db
    db = Database(url)
    before = applied(db)
    assert before >= {"m001_requests", "m002_rollup_hourly", "m003_rollup_daily"}
    assert bool(_triggers(db)) == (scenario == "full")  # the old code's triggers are there

    store = open_store(url)
    try:
        # Exactly what the old code had not applied, in the one list's order.
        assert store.migrate() == [m.name for m in MIGRATIONS if m.name not in before]
        assert store.migrate() == []
        assert _triggers(db) == []
        _assert_in_step(db, OLD_RECORDS)  # backfilled (ledger_only) or kept (full) exactly

        # The upgraded ledger takes new records and replays, and keeps every rollup exact.
        new = synth.records(100, seed=99, days=3, end=END)
        assert store.insert_batch(new) == 100
        assert store.insert_batch(new[:50]) == 0
        _assert_in_step(db, OLD_RECORDS + 100)
    finally:
        store.close()

    # Same tables and columns as a database made new today.
    with _fresh(db.dialect, tmp_path) as fresh:
        assert _columns(db) == _columns(fresh)
    db.close()


@contextmanager
def _fresh(dialect: str, tmp_path: Path) -> Iterator[Database]:
    """A database migrated from nothing by today's code."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        schema = f"tp_fresh_{uuid.uuid4().hex[:10]}"
        admin = psycopg.connect(PG_DSN, autocommit=True)
        admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{PG_DSN}?options=-csearch_path%3D{schema}"
    db = Database(url, readonly=False)
    try:
        migrate(db)
        yield db
    finally:
        db.close()
        if dialect != "sqlite":
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            admin.close()


def test_old_keys_and_holds_keep_working(db_url: str) -> None:
    _load(db_url, "full")
    keys = KeyStore(db_url)
    try:
        (key,) = keys.list()
        assert key.name == "old-key"
        assert (key.usage_nano, key.reserved_nano) == (1_234_567, 3_000_000)
        assert keys.reserve(key.id, 1_000) is True
        keys.settle(key.id, 1_000, 500)
        got = keys.get(key.id)
        assert (got.usage_nano, got.reserved_nano) == (1_234_567 + 500, 3_000_000)
        # The old process's hold is swept like any dead holder's.
        keys._run("UPDATE key_holders SET seen_at = 0 WHERE holder <> 'none'")
        keys.heartbeat()
        assert keys.sweep(60.0) == 1
        assert keys.get(key.id).reserved_nano == 0
    finally:
        keys.close()


def test_a_new_database_gets_every_migration_once(db_url: str) -> None:
    store = open_store(db_url)
    names = store.migrate()
    store.close()
    assert names == [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    db = Database(db_url)
    tables = set(_columns(db))
    db.close()
    assert tables >= {
        "requests",
        "rollup_hourly",
        "rollup_daily",
        "api_keys",
        "key_holders",
        "key_holds",
        "_migrations",
        *(t for t, _ in rollups.DIMENSIONS.values()),
    }


def test_old_keys_move_into_the_default_workspace(db_url: str) -> None:
    """`w001_workspaces` on an old database: the default workspace exists, every old key is
    in it (an inference key, enabled, its credit kept), and the step is recorded."""
    _load(db_url, "full")
    keys = KeyStore(db_url)
    try:
        keys.migrate()
        (key,) = keys.list()
        assert (key.workspace_id, key.scope, key.disabled) == ("default", "inference", False)
        assert key.credit_limit_nano == 1_000_000_000 and key.limit_reset is None
        rows, _ = keys.execute("SELECT id FROM workspaces")
        assert rows == [("default",)]
    finally:
        keys.close()
    db = Database(db_url)
    assert {"w001_workspaces", "w002_budgets", "w003_audit_log"} <= applied(db)
    db.close()
