"""The ledger's batch insert cost alone: `store.insert_batch` of synthetic records, timed.

    python bench/ledger_insert_cost.py [--db sqlite|postgres] [--records 20000] [--batch 500]
        [--analytics] [--repeat 3]

`--analytics` also applies analytics' migration first (`rollups.ensure`). Run it against an
older checkout to compare, e.g. the code before the analytics triggers were removed:

    git archive 4767535 src | tar -x -C /tmp/tp_old
    PYTHONPATH=/tmp/tp_old/src python bench/ledger_insert_cost.py --analytics   # triggers
    PYTHONPATH=/tmp/tp_old/src python bench/ledger_insert_cost.py               # no analytics
    PYTHONPATH=src python bench/ledger_insert_cost.py                           # today

Prints records per wall second and per CPU second of this process (steadier on a shared
machine; on PostgreSQL it leaves out the server's work), best and median of the runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import psycopg

from tokenport.analytics import rollups
from tokenport.lab import synth
from tokenport.ledger import open_store

PG = "postgresql://postgres@127.0.0.1:5432/test"


def one_run(url: str, records: int, batch: int, analytics: bool) -> tuple[float, float]:
    """(records per wall second, records per CPU second of this process)."""
    store = open_store(url)
    try:
        store.migrate()
        if analytics:
            rollups.ensure(url)
        recs = synth.records(records, seed=5, days=7, end=1_760_000_000.0)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, records, batch):
            store.insert_batch(recs[i : i + batch])
        return records / (time.perf_counter() - t0), records / (time.process_time() - c0)
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--analytics", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rates: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        if args.db == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rate = one_run(f"sqlite:///{tmp}/l.db", args.records, args.batch, args.analytics)
        else:
            schema = f"tp_cost_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG, autocommit=True) as admin:
                admin.execute(f"CREATE SCHEMA {schema}")
                try:
                    url = f"{PG}?options=-csearch_path%3D{schema}"
                    rate = one_run(url, args.records, args.batch, args.analytics)
                finally:
                    admin.execute(f"DROP SCHEMA {schema} CASCADE")
        rates.append(rate)
        print(f"{rate[0]:,.0f} records/s wall, {rate[1]:,.0f} per CPU second")
    wall, cpu = ([r[i] for r in rates] for i in (0, 1))
    print(
        f"{args.db} analytics={args.analytics}: wall best {max(wall):,.0f} median "
        f"{statistics.median(wall):,.0f} records/s; CPU best {max(cpu):,.0f} median "
        f"{statistics.median(cpu):,.0f} records/CPU-s"
    )


if __name__ == "__main__":
    main()
