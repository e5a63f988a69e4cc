"""The key path's database cost per request: one reservation and one charge, timed.

    python bench/key_settle_cost.py [--requests 500]

Against the same code before exactly-once charges (`settle` without a record id), e.g.:

    git archive 4767535 src | tar -x -C /tmp/tp_old
    PYTHONPATH=/tmp/tp_old/src python bench/key_settle_cost.py

SQLite in a scratch file, PostgreSQL (127.0.0.1:5432, db test) in a scratch schema.
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
import uuid

import psycopg

from tokenport.security.keystore import KeyStore

PG = "postgresql://postgres@127.0.0.1:5432/test"


def ms_per_request(url: str, requests: int) -> float:
    keys = KeyStore(url)
    key = keys.create("bench", credit_limit_usd=1000.0).key
    exactly_once = "record_id" in inspect.signature(keys.settle).parameters
    t0 = time.perf_counter()
    for i in range(requests):
        keys.reserve(key.id, 1000)
        if exactly_once:
            keys.settle(key.id, 1000, 900, f"gen-{i}")  # type: ignore[call-arg, unused-ignore]
        else:
            keys.settle(key.id, 1000, 900)
    elapsed = time.perf_counter() - t0
    keys.close()
    return elapsed / requests * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=500)
    n = ap.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sqlite: {ms_per_request(f'sqlite:///{tmp}/k.db', n):.3f} ms per request")
    schema = f"tp_keys_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = f"{PG}?options=-csearch_path%3D{schema}"
            print(f"postgres: {ms_per_request(url, n):.3f} ms per request")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
