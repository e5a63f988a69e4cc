"""The narrow per-dimension rollups stay equal to `rollup_hourly`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from _an_helpers import END, HOUR, assert_narrow_tables_match
from tokenport.analytics import rollups
from tokenport.analytics.periods import period_plan
from tokenport.analytics.service import compute, parse_query
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog
from tokenport.db import Database
from tokenport.lab import synth
from tokenport.ledger import open_store

pytestmark = pytest.mark.timeout(120)


def _assert_in_step(url: str) -> None:
    db = Database(url)
    try:
        assert_narrow_tables_match(db)
    finally:
        db.close()


def test_batch_inserts_keep_the_tables_exact(db_url: str) -> None:
    # The backfill of a ledger written before these tables existed: tests/db/test_db_upgrade.py
    records = synth.records(2_000, seed=3, days=3, end=END)
    store = open_store(db_url)
    try:
        store.migrate()
        store.insert_batch(records[:800])
        store.insert_batch(records[800:])
        store.insert_batch(records[400:1200])  # a replay adds nothing, anywhere
    finally:
        store.close()
    _assert_in_step(db_url)
    assert rollups.ensure(db_url) == []  # idempotent


def test_source_reads_period_sums(db_url: str, catalog: Catalog) -> None:
    synth.fill(db_url, 1_500, seed=4, days=14, end=END - 1)  # the 14 days before END
    source = RollupSource(db_url)
    try:
        assert source.latest_hour() is not None
        p = period_plan("week", "rolling", END, 2)
        rows = source.by_period("model", p.periods)
        assert {r.bucket for r in rows} == {0, 1}
        assert sum(r.requests for r in rows) == 1_500
        assert source.explain("model", p.periods)
        assert source.keys() == {}  # synthetic keys are not in a key table
        for mode in ("rolling", "calendar"):  # calendar: a partial week, compared to date
            r = compute(parse_query({"end": str(END - 3 * HOUR), "mode": mode}), source, catalog)
            assert r.sections["model"].rows and r.sections["key"].rows and r.sections["app"].rows
            assert r.totals.requests > 0
    finally:
        source.close()


def test_a_missing_sqlite_file_is_an_empty_ledger(tmp_path: object) -> None:
    path = f"{tmp_path}/nothing-here.db"
    source = RollupSource(f"sqlite:///{path}")
    assert source.latest_hour() is None
    assert source.by_period("app", period_plan("day", "rolling", END, 2).periods) == []
    assert not __import__("os").path.exists(path)  # reading never creates the file
