"""A request's charge lands on its key exactly once, whether the gateway (KeyStore.settle) or
the ledger (on inserting the record) gets there first, or both race (ledger/charges.py)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from _ledger_fixtures import store_url

from tokenport.ledger import LedgerRecord, LedgerStore, open_store
from tokenport.ledger.charges import MARKER_TTL_S
from tokenport.ledger.record import KeyHold
from tokenport.security.keys import to_nano
from tokenport.security.keystore import KeyStore

__all__ = ["store_url"]
pytestmark = pytest.mark.timeout(60)
RESERVED = 50_000


@pytest.fixture
def parts(store_url: str) -> Iterator[tuple[LedgerStore, KeyStore, str]]:
    store = open_store(store_url)
    store.migrate()
    keys = KeyStore(store_url)
    key_id = keys.create("c", credit_limit_usd=10.0).key.id
    yield store, keys, key_id
    store.close()
    keys.close()


def _record(i: int, keys: KeyStore, key_id: str, cost: float = 1e-5) -> LedgerRecord:
    return LedgerRecord(
        id=f"gen-{i:06d}",
        ts=1_760_000_000.0 + i,
        model_requested="m",
        status="ok",
        key_id=key_id,
        cost=cost,
        hold=KeyHold(keys.holder, RESERVED),
    )


def _usage(keys: KeyStore, key_id: str) -> tuple[int, int]:
    key = keys.get(key_id)
    return key.usage_nano, key.reserved_nano


def test_gateway_first_then_the_ledger_skips_it(
    parts: tuple[LedgerStore, KeyStore, str],
) -> None:
    store, keys, key_id = parts
    assert keys.reserve(key_id, RESERVED)
    rec = _record(1, keys, key_id)
    assert keys.settle(key_id, RESERVED, to_nano(rec.cost), rec.id) is True
    assert keys.settle(key_id, RESERVED, to_nano(rec.cost), rec.id) is False  # a retry
    assert store.insert_batch([rec]) == 1
    assert _usage(keys, key_id) == (to_nano(rec.cost), 0)
    assert keys._run("SELECT COUNT(*) FROM key_settlements")[0] == [(0,)]  # marker gone


def test_ledger_first_then_the_gateway_skips_it(
    parts: tuple[LedgerStore, KeyStore, str],
) -> None:
    store, keys, key_id = parts
    assert keys.reserve(key_id, RESERVED)
    rec = _record(2, keys, key_id)
    assert store.insert_batch([rec]) == 1  # the gateway could not charge: the ledger does
    assert store.insert_batch([rec]) == 0  # a replay charges nothing
    assert keys.settle(key_id, RESERVED, to_nano(rec.cost), rec.id) is False
    assert _usage(keys, key_id) == (to_nano(rec.cost), 0)


def test_a_swept_hold_is_charged_without_taking_other_reservations(
    parts: tuple[LedgerStore, KeyStore, str],
) -> None:
    store, keys, key_id = parts
    dead = KeyStore(keys.url)
    assert dead.reserve(key_id, RESERVED)
    assert keys.reserve(key_id, 7)  # a live request's reservation
    keys._run(
        f"UPDATE key_holders SET seen_at = 0 WHERE holder = {keys.key_sql.param}", (dead.holder,)
    )
    assert keys.sweep(60.0) == 1  # the dead holder's reservation is given back
    rec = _record(3, dead, key_id)
    assert store.insert_batch([rec]) == 1  # its journal, replayed
    assert _usage(keys, key_id) == (to_nano(rec.cost), 7)
    dead.close()


def test_a_record_without_a_hold_charges_nothing(
    parts: tuple[LedgerStore, KeyStore, str],
) -> None:
    store, keys, key_id = parts
    old = LedgerRecord(id="gen-old", ts=1.0, model_requested="m", status="ok", key_id=key_id)
    assert store.insert_batch([old]) == 1
    assert _usage(keys, key_id) == (0, 0)


def test_racing_gateway_and_ledger_charge_each_request_once(
    parts: tuple[LedgerStore, KeyStore, str], store_url: str
) -> None:
    store, keys, key_id = parts
    gateways = [KeyStore(store_url) for _ in range(4)]
    records: list[LedgerRecord] = []
    for i, g in enumerate(gateways * 15):
        assert g.reserve(key_id, RESERVED)
        records.append(_record(100 + i, g, key_id, cost=random.uniform(1e-6, 4e-5)))
    holder_of = {g.holder: g for g in gateways}
    start = threading.Event()

    def gateway(rec: LedgerRecord) -> None:
        start.wait()
        time.sleep(random.uniform(0, 0.02))
        assert rec.hold is not None
        holder_of[rec.hold.holder].settle(key_id, RESERVED, to_nano(rec.cost), rec.id)

    def ledger() -> None:
        start.wait()
        shuffled = random.sample(records, len(records))
        for i in range(0, len(shuffled), 6):
            store.insert_batch(shuffled[i : i + 6])
            time.sleep(random.uniform(0, 0.005))

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ledger)] + [pool.submit(gateway, r) for r in records]
        start.set()
        for f in futures:
            f.result(timeout=30)
    assert _usage(keys, key_id) == (sum(to_nano(r.cost) for r in records), 0)
    for g in gateways:
        g.close()


def test_the_sweep_prunes_week_old_gateway_charges_only(
    parts: tuple[LedgerStore, KeyStore, str],
) -> None:
    _, keys, key_id = parts
    for i in range(2):
        assert keys.reserve(key_id, RESERVED)
        assert keys.settle(key_id, RESERVED, 10, f"gen-cancelled-{i}")  # never recorded
    p = keys.key_sql.param
    keys._run(
        f"UPDATE key_settlements SET settled_at = {p} WHERE id = {p}",
        (time.time() - MARKER_TTL_S - 60, "gen-cancelled-0"),
    )
    keys.sweep(60.0)
    rows, _ = keys._run("SELECT id FROM key_settlements")
    assert rows == [("gen-cancelled-1",)]
