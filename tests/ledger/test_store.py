"""The stores, on SQLite and PostgreSQL alike: migrations, round trips, rollups, outages."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from _ledger_fixtures import count, full_record, query, store_url
from tokenport.db import MIGRATIONS
from tokenport.errors import BadRequest, ConfigError, ServiceUnavailable
from tokenport.lab import synth
from tokenport.ledger import LedgerRecord, LedgerStore, open_store
from tokenport.ledger.store_sqlite import SqliteStore

__all__ = ["store_url"]
pytestmark = pytest.mark.timeout(60)

END = 1_760_000_000.0


@pytest.fixture
def store(store_url: str) -> Iterator[LedgerStore]:
    s = open_store(store_url)
    s.migrate()
    yield s
    s.close()


def test_migrations_are_recorded_in_order_and_idempotent(store_url: str) -> None:
    s = open_store(store_url)
    try:
        assert s.migrate() == [m.name for m in MIGRATIONS]
        assert s.migrate() == []
    finally:
        s.close()
    s = open_store(store_url)
    assert s.migrate() == []
    s.close()
    names = [r[0] for r in query(store_url, "SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted(m.name for m in MIGRATIONS)


def test_every_field_round_trips(store: LedgerStore) -> None:
    full = full_record()
    bare = LedgerRecord(id="01JBBBBBBBBBBBBBBBBBBBBBBB", ts=1.5, model_requested="m", status="ok")
    assert store.insert_batch([full, bare]) == 2
    assert store.get(full.id) == full
    assert store.get(bare.id) == bare
    assert store.get("nope") is None


def test_replayed_batches_do_not_double_count(store: LedgerStore, store_url: str) -> None:
    recs = synth.records(400, seed=3, end=END)
    assert store.insert_batch(recs[:300]) == 300
    before = store.usage_report(0, 2e9)
    assert store.insert_batch(recs[:300]) == 0
    assert store.usage_report(0, 2e9) == before
    # Half replayed, half new; and a duplicate inside one batch counts once.
    assert store.insert_batch([*recs[200:], recs[399]]) == 100
    total = store.usage_report(0, 2e9)[0]
    assert total.requests == 400 == count(store_url)
    assert total.prompt_tokens == sum(r.prompt_tokens for r in recs)


def test_rollups_equal_sums_of_raw_rows(store: LedgerStore, store_url: str) -> None:
    recs = synth.records(3000, seed=5, end=END)
    for i in range(0, len(recs), 700):
        store.insert_batch(recs[i : i + 700])
    raw = query(
        store_url,
        "SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), "
        "SUM(reasoning_tokens), SUM(cost), SUM(latency_ms) FROM requests",
    )[0]
    t = store.usage_report(0, 2e9)[0]
    rolled = (
        t.requests,
        t.prompt_tokens,
        t.completion_tokens,
        t.cached_tokens,
        t.reasoning_tokens,
        t.cost,
        t.latency_ms_sum,
    )
    assert rolled[:5] == tuple(int(v) for v in raw[:5])
    assert rolled[5:] == pytest.approx(tuple(float(v) for v in raw[5:]), rel=1e-9)
    assert t.errors == sum(r.status != "ok" for r in recs)
    assert t.ttft_count == sum(r.ttft_ms is not None for r in recs)

    by_model = store.usage_report(0, 2e9, ["model_served", "provider"])
    expect: dict[tuple[str | None, str | None], Counter[str]] = defaultdict(Counter)
    for r in recs:
        expect[(r.model_served, r.provider)]["requests"] += 1
        expect[(r.model_served, r.provider)]["completion"] += r.completion_tokens
    assert {(u.model_served, u.provider): (u.requests, u.completion_tokens) for u in by_model} == {
        k: (c["requests"], c["completion"]) for k, c in expect.items()
    }
    hourly = store.rollups(0, 2e9)
    assert sum(u.requests for u in hourly) == 3000
    assert all(u.bucket is not None and u.bucket % 3600 == 0 for u in hourly)


def test_usage_report_windows_and_filters(store: LedgerStore) -> None:
    recs = synth.records(1000, seed=7, days=3, end=END)
    store.insert_batch(recs)
    days = store.usage_report(0, 2e9, ["day"])
    assert [d.bucket for d in days] == sorted({int(r.ts // 86400) * 86400 for r in recs})
    assert sum(d.requests for d in days) == 1000
    first_day = days[0].bucket or 0
    window = store.usage_report(first_day, first_day + 86400)[0]
    assert window.requests == days[0].requests
    key = recs[0].key_id
    mine = store.usage_report(0, 2e9, key_id=key)[0]
    assert mine.requests == sum(r.key_id == key for r in recs)
    assert store.usage_report(0, 1)[0].requests == 0
    with pytest.raises(BadRequest):
        store.usage_report(0, 2e9, ["hour", "day"])
    with pytest.raises(BadRequest):
        store.usage_report(0, 2e9, ["cost; DROP TABLE requests"])  # type: ignore[list-item]


def test_synth_fill_is_fast_and_repeatable(store_url: str) -> None:
    seen: list[int] = []
    t0 = time.perf_counter()
    assert (
        synth.fill(store_url, 12_000, seed=1, end=END, progress=lambda d, n: seen.append(d))
        == 12_000
    )
    elapsed = time.perf_counter() - t0
    assert seen[-1] == 12_000 and len(seen) > 1
    assert synth.fill(store_url, 12_000, seed=1, end=END) == 0  # same ids: nothing new
    assert count(store_url) == 12_000
    assert elapsed < 20


def test_open_store_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url, path in [
        ("plain.db", "plain.db"),
        ("sqlite:///rel.db", "rel.db"),
        (f"sqlite:///{tmp_path}/abs.db", f"{tmp_path}/abs.db"),
    ]:
        s = open_store(url)
        assert isinstance(s, SqliteStore) and s.path == path
        s.close()
    with pytest.raises(ConfigError):
        open_store("mysql://x/y")
    mem = open_store("sqlite:///:memory:")
    mem.migrate()
    mem.insert_batch([full_record()])
    assert mem.get(full_record().id) == full_record()
    mem.close()


def test_postgres_outage_is_service_unavailable_not_a_hang() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="not reachable"):
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert time.perf_counter() - t0 < 10


def test_daily_rollups_answer_day_aligned_reports_exactly(store: LedgerStore) -> None:
    recs = synth.records(3000, seed=11, days=5, end=END)
    store.insert_batch(recs[:2000])
    store.insert_batch(recs[1500:])  # half-overlapping replay: nothing counted twice
    first = int(min(r.ts for r in recs) // 86400) * 86400
    last = int(max(r.ts for r in recs) // 86400) * 86400 + 86400
    groups = ("key_id", "model_served", "day")
    daily = store.usage_report(first, last, groups)  # day-aligned: the daily table
    expected: dict[tuple[object, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for r in recs:
        acc = expected[(r.key_id, r.model_served, int(r.ts // 86400) * 86400)]
        acc[0] += 1
        acc[1] += r.completion_tokens
        acc[2] += r.cost
    got = {
        (u.key_id, u.model_served, u.bucket): [u.requests, u.completion_tokens, u.cost]
        for u in daily
    }
    assert got.keys() == expected.keys()
    for k, (n, toks, cost) in expected.items():
        assert got[k][:2] == [n, toks] and got[k][2] == pytest.approx(cost)
    hourly = store.usage_report(first + 3600, last, ("model_served",))  # not aligned: hourly
    assert sum(u.requests for u in hourly) == sum(r.ts >= first + 3600 for r in recs)
