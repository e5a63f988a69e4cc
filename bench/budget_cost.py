"""What budgets add to a request: admission's CPU to find them, and the database's time to
reserve and charge them, beside the key's own reservation.

    python bench/budget_cost.py [--requests 300]

- `slots`: `BudgetBook.slots` per request (what admission runs in-process), with no budget
  configured, and with a key under its own, its member's and its workspace's budget in a
  book of 3,000 budgets.
- `reserve+charge`: `KeyStore.reserve_all` and `settle` per request on a credit-limited
  key with 0, 1 and 3 budgets above it, on SQLite (a scratch file) and PostgreSQL
  (127.0.0.1:5432, db test, a scratch schema).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
import uuid

import psycopg

from tokenport.security.budget_store import BudgetStore
from tokenport.security.budgets import Budget, BudgetBook
from tokenport.security.keystore import KeyStore
from tokenport.security.workspaces import WorkspaceStore

PG = "postgresql://postgres@127.0.0.1:5432/test"


def slots_us() -> tuple[float, float]:
    keys = KeyStore("sqlite:///:memory:")
    key = keys.create("k", workspace_id="default", member_id="mem_1").key
    keys.close()
    empty = BudgetBook()
    many = [Budget(f"b{i}", "default", "key", f"key_{i}", "daily", 1) for i in range(3_000)] + [
        Budget("bk", "default", "key", key.id, "daily", 1),
        Budget("bm", "default", "member", "mem_1", "weekly", 1),
        Budget("bw", "default", "workspace", "default", "monthly", 1),
    ]
    full = BudgetBook(many)
    assert len(full.slots(key, time.time())) == 3
    n = 100_000
    now = time.time()
    none = timeit.timeit(lambda: empty.slots(key, now), number=n) / n * 1e6
    three = timeit.timeit(lambda: full.slots(key, now), number=n) / n * 1e6
    return none, three


def reserve_ms(url: str, budgets: int, requests: int) -> float:
    keys = KeyStore(url)
    ws = WorkspaceStore(keys)
    store = BudgetStore(keys)
    member = ws.add_member("default", f"m{budgets}@example.com", "member")
    key = keys.create("bench", credit_limit_usd=1000.0, member_id=member.id).key
    subjects = [("key", key.id), ("member", member.id), ("workspace", "default")][:budgets]
    for level, subject in subjects:
        store.create("default", level, subject, "monthly", 10**15)
    book = BudgetBook(store.all_budgets())
    key = keys.get(key.id)
    t0 = time.perf_counter()
    for i in range(requests):
        slots = book.slots(key, time.time())
        assert keys.reserve_all(key.id, 1000, slots) is None
        keys.settle(key.id, 1000, 900, f"gen-{budgets}-{i}", slots)
    elapsed = time.perf_counter() - t0
    for level, subject in subjects:  # the next run starts with none
        for b in store.all_budgets():
            if (b.level, b.subject) == (level, subject):
                store.delete(b.id)
    keys.close()
    return elapsed / requests * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    n = ap.parse_args().requests
    none, three = slots_us()
    print(f"slots: {none:.2f} us with no budget, {three:.2f} us with 3 above the key")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/k.db"
        for b in (0, 1, 3):
            print(f"sqlite, {b} budget(s): {reserve_ms(url, b, n):.3f} ms reserve+charge")
    schema = f"tp_budget_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = f"{PG}?options=-csearch_path%3D{schema}"
            for b in (0, 1, 3):
                print(f"postgres, {b} budget(s): {reserve_ms(url, b, n):.3f} ms reserve+charge")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
