"""Budgets at the store: periods, all-or-nothing reservation over every budget above a key,
rollover without a reset, a lowered limit, sweeps, and the ledger's charge path; on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tokenport.db import Database
from tokenport.ledger.budget_charges import slot_name
from tokenport.ledger.charges import charge_recorded
from tokenport.ledger.record import KeyHold, LedgerRecord
from tokenport.security.budget_store import BudgetStore
from tokenport.security.budgets import BudgetBook, period_end, period_start
from tokenport.security.keystore import KeyStore
from tokenport.security.workspaces import WorkspaceStore

pytestmark = pytest.mark.timeout(60)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_periods_are_utc_days_mondays_and_first_of_month() -> None:
    t = _ts("2026-03-05T17:30:00")  # a Thursday
    assert period_start("daily", t) == _ts("2026-03-05T00:00:00")
    assert period_start("weekly", t) == _ts("2026-03-02T00:00:00")  # Monday
    assert period_start("monthly", t) == _ts("2026-03-01T00:00:00")
    assert period_start("lifetime", t) == 0
    assert period_end("monthly", int(_ts("2026-12-01T00:00:00"))) == _ts("2027-01-01T00:00:00")
    assert period_end("weekly", int(_ts("2026-03-02T00:00:00"))) == _ts("2026-03-09T00:00:00")
    assert period_end("lifetime", 0) is None
    # The last instant of a day still belongs to it.
    assert period_start("daily", _ts("2026-03-05T23:59:59.999")) == _ts("2026-03-05T00:00:00")


def test_period_arithmetic_matches_the_calendar() -> None:
    import random
    from datetime import timedelta

    rng = random.Random(23)
    for _ in range(3_000):
        ts = rng.uniform(0, 4_200_000_000)
        d = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert period_start("daily", ts) == d.timestamp()
        assert period_start("weekly", ts) == (d - timedelta(days=d.weekday())).timestamp()
        assert period_start("monthly", ts) == d.replace(day=1).timestamp()


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[KeyStore, BudgetStore, WorkspaceStore]]:
    keys = KeyStore(db_url)
    yield keys, BudgetStore(keys), WorkspaceStore(keys)
    keys.close()


def test_a_request_must_fit_every_budget_above_its_key(
    stores: tuple[KeyStore, BudgetStore, WorkspaceStore],
) -> None:
    keys, budgets, spaces = stores
    spaces.create("acme", "Acme")
    member = spaces.add_member("acme", "ann@acme.test", "member")
    key = keys.create("k", workspace_id="acme", member_id=member.id).key
    other = keys.create("k2", workspace_id="acme").key
    ws = budgets.create("acme", "workspace", "acme", "monthly", 100)
    mb = budgets.create("acme", "member", member.id, "daily", 60)
    book = BudgetBook(budgets.all_budgets())
    now = _ts("2026-03-05T12:00:00")
    slots = book.slots(keys.get(key.id), now)
    assert slots == sorted(
        [
            slot_name(ws.id, period_start("monthly", now)),
            slot_name(mb.id, period_start("daily", now)),
        ]
    )
    assert book.slots(keys.get(other.id), now) == [slot_name(ws.id, period_start("monthly", now))]

    assert keys.reserve_all(key.id, 50, slots) is None
    assert keys.reserve_all(key.id, 20, slots) == mb.id  # 50 + 20 > the member's 60
    # The refusal rolled everything back: the workspace budget and key hold nothing more.
    assert budgets.usage(ws, now).reserved_nano == 50
    assert keys.get(key.id).reserved_nano == 50
    other_slots = book.slots(keys.get(other.id), now)
    assert keys.reserve_all(other.id, 50, other_slots) is None  # 100 of 100
    assert keys.reserve_all(other.id, 1, other_slots) == ws.id

    keys.settle(key.id, 50, 30, "gen-1", slots)
    assert (budgets.usage(ws, now).usage_nano, budgets.usage(ws, now).reserved_nano) == (30, 50)
    assert (budgets.usage(mb, now).usage_nano, budgets.usage(mb, now).reserved_nano) == (30, 0)
    assert keys.get(key.id).usage_nano == 30
    assert keys.reserve_all(other.id, 20, other_slots) is None  # 30 + 50 + 20 = 100


def test_a_request_admitted_before_the_boundary_is_charged_to_its_period(
    stores: tuple[KeyStore, BudgetStore, WorkspaceStore],
) -> None:
    keys, budgets, _ = stores
    key = keys.create("k").key
    b = budgets.create("default", "key", key.id, "daily", 100)
    book = BudgetBook(budgets.all_budgets())
    before, after = _ts("2026-03-05T23:59:59"), _ts("2026-03-06T00:00:01")
    old = book.slots(key, before)
    assert keys.reserve_all(key.id, 80, old) is None
    new = book.slots(key, after)
    assert new != old
    assert keys.reserve_all(key.id, 90, new) is None  # a new period: a new row, no reset
    keys.settle(key.id, 80, 70, "gen-old", old)  # it ends after midnight
    assert budgets.usage(b, before).usage_nano == 70
    assert budgets.usage(b, after).usage_nano == 0
    assert budgets.usage(b, after).reserved_nano == 90


def test_a_lowered_budget_holds_at_once_and_an_edit_keeps_usage(
    stores: tuple[KeyStore, BudgetStore, WorkspaceStore],
) -> None:
    keys, budgets, _ = stores
    key = keys.create("k").key
    b = budgets.create("default", "workspace", "default", "lifetime", 1_000)
    slots = BudgetBook(budgets.all_budgets()).slots(key, 0.0)
    assert keys.reserve_all(key.id, 300, slots) is None
    keys.settle(key.id, 300, 300, "gen-1", slots)
    budgets.set_limit(b.id, 400)  # the cached book still says 1000: the row's limit rules
    assert keys.reserve_all(key.id, 101, slots) == b.id
    assert keys.reserve_all(key.id, 100, slots) is None
    assert budgets.usage(b).usage_nano == 300  # the edit lost nothing
    budgets.delete(b.id)  # a deleted budget limits nothing, even from a stale cache
    assert keys.reserve_all(key.id, 10_000, slots) is None


def test_a_dead_holders_budget_holds_are_given_back(
    stores: tuple[KeyStore, BudgetStore, WorkspaceStore], db_url: str
) -> None:
    keys, budgets, _ = stores
    key = keys.create("k").key
    b = budgets.create("default", "key", key.id, "lifetime", 1_000)
    slots = BudgetBook(budgets.all_budgets()).slots(key, 0.0)
    dead = KeyStore(db_url)
    try:
        assert dead.reserve_all(key.id, 400, slots) is None
        dead.execute("UPDATE key_holders SET seen_at = 0")
    finally:
        dead.close()
    keys.heartbeat()
    assert keys.sweep(60.0) == 1
    assert budgets.usage(b).reserved_nano == 0
    assert keys.get(key.id).reserved_nano == 0


def test_the_ledger_charges_budget_holds_once_and_records_alerts(
    stores: tuple[KeyStore, BudgetStore, WorkspaceStore], db_url: str
) -> None:
    keys, budgets, _ = stores
    key = keys.create("k").key
    b = budgets.create("default", "key", key.id, "lifetime", 1_000)
    slots = BudgetBook(budgets.all_budgets()).slots(key, 0.0)
    assert keys.reserve_all(key.id, 900, slots) is None
    record = LedgerRecord(
        id="gen-ledger",
        ts=1.0,
        model_requested="m",
        status="ok",
        key_id=key.id,
        cost=850e-9,
        hold=KeyHold(keys.holder, 900, slots),
    )
    db = Database(db_url, readonly=False)
    try:
        with db.transaction() as tx:
            assert charge_recorded(tx, [record]) == 1
    finally:
        db.close()
    assert keys.settle(key.id, 900, 850, "gen-other", slots) is True  # a second request
    u = budgets.usage(b)
    assert (u.usage_nano, u.reserved_nano) == (1_700, 0)
    assert sorted(a.threshold for a in budgets.alerts()) == [50, 80, 100]
