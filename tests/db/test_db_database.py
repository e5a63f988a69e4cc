"""The one database layer: URLs, connections, transactions, locks, outages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tokenport.analytics.source import RollupSource
from tokenport.db import BUSY_TIMEOUT_S, MIGRATION_LOCK, Database, parse_url
from tokenport.errors import ConfigError, ServiceUnavailable
from tokenport.ledger import open_store
from tokenport.security.keystore import KeyStore

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("url", "dialect", "target"),
    [
        ("plain.db", "sqlite", "plain.db"),
        ("sqlite:///rel.db", "sqlite", "rel.db"),
        ("sqlite:////abs/x.db", "sqlite", "/abs/x.db"),
        ("sqlite:///:memory:", "sqlite", ":memory:"),
        ("postgresql://u:secret@db:6543/led", "postgres", "postgresql://u:secret@db:6543/led"),
        ("postgres://u@db/led", "postgres", "postgres://u@db/led"),
    ],
)
def test_urls(url: str, dialect: str, target: str) -> None:
    parsed = parse_url(url)
    assert (parsed.dialect, parsed.target) == (dialect, target)
    assert "secret" not in parsed.where


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///", "sqlite://"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_url(url)


def test_where_names_postgres_without_the_password() -> None:
    assert parse_url("postgresql://u:secret@db:6543/led").where == "db:6543/led"


def test_a_transaction_commits_or_rolls_back_whole(db_url: str) -> None:
    db = Database(db_url, readonly=False)
    with db.transaction() as tx:
        tx.run("CREATE TABLE t (x BIGINT)")
    with pytest.raises(RuntimeError):
        _insert_then_fail(db)
    with db.transaction() as tx:
        tx.many(f"INSERT INTO t VALUES ({db.param})", [(2,), (3,)])
        assert tx.run("UPDATE t SET x = x + 10") == 2
    assert db.rows("SELECT x FROM t ORDER BY x") == [(12,), (13,)]
    db.close()


def _insert_then_fail(db: Database) -> None:
    with db.transaction() as tx:
        tx.run("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")


def test_a_reader_cannot_write(db_url: str) -> None:
    Database(db_url, readonly=False).execute("CREATE TABLE t (x BIGINT)")
    reader = Database(db_url)
    with pytest.raises(ServiceUnavailable):
        reader.execute("INSERT INTO t VALUES (1)")
    assert reader.rows("SELECT COUNT(*) FROM t") == [(0,)]  # and reconnects after the error
    reader.close()


def test_the_migration_lock_makes_replicas_take_turns(db_url: str) -> None:
    first, second = Database(db_url, readonly=False), Database(db_url, readonly=False)
    order: list[str] = []
    with first.transaction(lock=MIGRATION_LOCK):
        waiter = threading.Thread(target=lambda: _locked(second, order))
        waiter.start()
        time.sleep(0.5)
        order.append("first done")
    waiter.join(10)
    assert order == ["first done", "second in"]
    first.close()
    second.close()


def _locked(db: Database, order: list[str]) -> None:
    with db.transaction(lock=MIGRATION_LOCK):
        order.append("second in")


def test_an_unreachable_postgres_fails_fast_naming_it_without_password() -> None:
    db = Database("postgresql://u:hunter2@127.0.0.1:1/x", what="key database", connect_timeout=1)
    t0 = time.perf_counter()
    where = r"key database at 127\.0\.0\.1:1/x is not reachable"
    with pytest.raises(ServiceUnavailable, match=where) as e:
        db.rows("SELECT 1")
    assert "hunter2" not in str(e.value)
    assert time.perf_counter() - t0 < 5


def test_every_sqlite_connection_waits_the_same_for_the_write_lock(tmp_path: Path) -> None:
    # Three layers used to disagree (5,000 vs 10,000 ms); now each asks the one Database.
    url = f"sqlite:///{tmp_path / 'one.db'}"
    store = open_store(url)
    store.migrate()
    keys = KeyStore(url)
    keys.list()
    source = RollupSource(url)
    source.latest_hour()
    want = [(int(BUSY_TIMEOUT_S * 1000),)]
    try:
        for db in (store._writer, store._reader, keys._db, source._db):  # type: ignore[attr-defined]
            assert db.rows("PRAGMA busy_timeout") == want
    finally:
        store.close()
        keys.close()
        source.close()


def test_a_missing_sqlite_file_is_not_created_by_asking(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'none.db'}")
    assert not db.exists()
    assert not (tmp_path / "none.db").exists()
