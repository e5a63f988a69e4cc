"""The key table on SQLite and PostgreSQL: lifecycle and atomic credit reservation."""

from __future__ import annotations

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

    def one(_: int) -> bool:
        # each thread gets its own store (connection), as separate processes would
        own = KeyStore(db_url)
        try:
            return own.reserve(key.id, unit)
        finally:
            own.close()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(200)))
    assert sum(results) == 50
    after = store.get(key.id)
    assert after.reserved_nano == 50 * unit <= after.credit_limit_nano  # type: ignore[operator]
    store.settle(key.id, unit, unit // 2)
    after = store.get(key.id)
    assert after.usage_nano == unit // 2 and after.reserved_nano == 49 * unit
    store.close()


def test_nano_rounding_never_under_reserves() -> None:
    assert to_nano(1e-10) == 1
    assert to_nano(0.1) == NANO // 10


def test_database_down_is_service_unavailable(tmp_path: object) -> None:
    store = KeyStore("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(ServiceUnavailable, match="key database"):
        store.create("x")
