"""The key table on SQLite and PostgreSQL: lifecycle and atomic credit reservation."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tokenport.errors import NotFound, ServiceUnavailable
from tokenport.security.keys import NANO, hash_key, to_nano
from tokenport.security.keystore import KeyStore


def test_create_lookup_revoke_top_up(db_url: str) -> None:
    store = KeyStore(db_url)
    new = store.create(
        "alice", credit_limit_usd=2.5, allowed_models=["deepseek/*"], rpm=10, tpm=1000, country="DE"
    )
    assert new.secret.startswith("tp-") and len(new.secret) > 40
    found = store.by_secret(new.secret)
    assert found is not None and found.id == new.key.id and found.country == "DE"
    assert found.allowed_models == ["deepseek/*"] and found.limit_usd == 2.5
    assert store.by_secret(new.secret + "x") is None
    assert store.top_up(new.key.id, 1.0).limit_usd == pytest.approx(3.5)
    revoked = store.revoke(new.key.id)
    assert revoked.state(time.time()) == "revoked"
    with pytest.raises(NotFound):
        store.revoke("key_missing")
    store.close()


def test_only_the_hash_is_stored(db_url: str) -> None:
    store = KeyStore(db_url)
    new = store.create("bob")
    rows, _ = store._run("SELECT * FROM api_keys")
    flat = " ".join(str(v) for v in rows[0])
    assert new.secret not in flat and hash_key(new.secret) in flat
    store.close()


def test_concurrent_reservations_never_pass_the_limit(db_url: str) -> None:
    store = KeyStore(db_url)
    key = store.create("carol", credit_limit_usd=0.05).key
    unit = to_nano(0.001)  # 50 of these fit
    local = threading.local()
    stores: list[KeyStore] = []

    def one(_: int) -> bool:
        # each thread has its own store (connection, holder), as separate processes would
        if not hasattr(local, "store"):
            local.store = KeyStore(db_url)
            stores.append(local.store)
        return bool(local.store.reserve(key.id, unit))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(200)))
    assert sum(results) == 50
    after = store.get(key.id)
    assert after.reserved_nano == 50 * unit <= after.credit_limit_nano  # type: ignore[operator]
    holder = next(s for s in stores if _held(s, key.id) > 0)
    holder.settle(key.id, unit, unit // 2)
    after = store.get(key.id)
    assert after.usage_nano == unit // 2 and after.reserved_nano == 49 * unit
    for s in [*stores, store]:
        s.close()


def _held(store: KeyStore, key_id: str) -> int:
    rows, _ = store._run(
        f"SELECT reserved_nano FROM key_holds WHERE holder = {store.key_sql.param} AND key_id = "
        f"{store.key_sql.param}",
        (store.holder, key_id),
    )
    return int(rows[0][0]) if rows else 0


def _age(store: KeyStore, holder: str, seconds: float) -> None:
    """Make `holder` look silent for `seconds` (as if its process died that long ago)."""
    p = store.key_sql.param
    store._run(
        f"UPDATE key_holders SET seen_at = {p} WHERE holder = {p}",
        (time.time() - seconds, holder),
    )


def test_a_dead_holders_reservations_are_given_back(db_url: str) -> None:
    admin = KeyStore(db_url)
    key = admin.create("dave", credit_limit_usd=1.0).key
    unit = to_nano(0.01)
    dead, alive = KeyStore(db_url), KeyStore(db_url)
    assert dead.reserve(key.id, unit) and dead.reserve(key.id, unit)
    dead.settle(key.id, unit, unit // 4)
    assert alive.reserve(key.id, 3 * unit)
    alive.heartbeat()
    dead.close()  # no settle, no retire: a SIGKILL
    assert admin.get(key.id).reserved_nano == 4 * unit

    assert admin.sweep(60.0) == 0  # not silent long enough yet
    _age(admin, dead.holder, 120)
    assert admin.sweep(60.0) == 1
    got = admin.get(key.id)
    assert got.reserved_nano == 3 * unit  # only the live holder's reservation is left
    assert got.usage_nano == unit // 4
    assert admin.sweep(60.0) == 0  # and it is given back once

    # The "dead" process was only stalled: its late settle charges the usage but cannot
    # take the live holder's reservation away.
    dead.settle(key.id, unit, unit // 2)
    got = admin.get(key.id)
    assert got.reserved_nano == 3 * unit and got.usage_nano == unit // 4 + unit // 2
    alive.settle(key.id, 3 * unit, unit)
    assert admin.get(key.id).reserved_nano == 0
    for s in (admin, dead, alive):
        s.close()


def test_a_mistakenly_swept_holder_that_then_dies_leaves_nothing_locked(db_url: str) -> None:
    admin = KeyStore(db_url)
    key = admin.create("gina", credit_limit_usd=1.0).key
    unit = to_nano(0.01)
    stalled = KeyStore(db_url)
    assert stalled.reserve(key.id, unit)
    _age(admin, stalled.holder, 120)  # e.g. the database was unreachable for its heartbeats
    assert admin.sweep(60.0) == 1
    assert stalled.reserve(key.id, 2 * unit)  # back, reserving before its next heartbeat
    stalled.close()  # ... and now it really dies: its new hold has no holder row
    assert admin.get(key.id).reserved_nano == 2 * unit
    assert admin.sweep(60.0) == 1
    assert admin.get(key.id).reserved_nano == 0
    assert admin.sweep(60.0) == 0
    admin.close()


def test_racing_sweepers_release_a_holder_once(db_url: str) -> None:
    admin = KeyStore(db_url)
    key = admin.create("erin", credit_limit_usd=1.0).key
    unit = to_nano(0.01)
    dead, alive = KeyStore(db_url), KeyStore(db_url)
    assert dead.reserve(key.id, 2 * unit) and alive.reserve(key.id, unit)
    dead.close()
    _age(admin, dead.holder, 3600)
    sweepers = [KeyStore(db_url) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        released = list(pool.map(lambda s: s.sweep(60.0), sweepers))
    assert sum(released) == 1
    assert admin.get(key.id).reserved_nano == unit
    for s in (admin, alive, *sweepers):
        s.close()


def test_retire_gives_back_what_a_clean_stop_still_holds(db_url: str) -> None:
    admin = KeyStore(db_url)
    key = admin.create("frank", credit_limit_usd=1.0).key
    store = KeyStore(db_url)
    assert store.reserve(key.id, to_nano(0.2))
    store.retire()
    assert admin.get(key.id).reserved_nano == 0
    rows, _ = admin._run("SELECT COUNT(*) FROM key_holders")
    assert rows[0][0] == 0
    admin.close()
    store.close()


def test_nano_rounding_never_under_reserves() -> None:
    assert to_nano(1e-10) == 1
    assert to_nano(0.1) == NANO // 10


def test_database_down_is_service_unavailable(tmp_path: object) -> None:
    store = KeyStore("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(ServiceUnavailable, match="key database"):
        store.create("x")
