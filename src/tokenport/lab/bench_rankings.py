"""Benchmark: rankings latency on a big ledger, with the database's query plans.

    python -m tokenport.lab.bench_rankings --database-url sqlite:////tmp/ledger10m.db \
        --rows 10000000

Fills the ledger with `lab.synth` up to `--rows` requests if it has fewer (that takes a
while: about 100k requests per 15-20 s on SQLite with 2 cores), migrates analytics' narrow
rollups (a one-time backfill, timed), then times whole rankings queries as the API runs them,
and prints the plans. For contrast it also times the naive query over `rollup_hourly`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

from tokenport.analytics import rollups
from tokenport.analytics.periods import period_plan
from tokenport.analytics.service import compute, parse_query
from tokenport.analytics.source import RollupSource, SourceDimension
from tokenport.catalog.store import Catalog
from tokenport.db import Database
from tokenport.lab import synth

QUERIES: dict[str, dict[str, str]] = {
    "week, all sections (dashboard)": {},
    "week, by=model": {"by": "model"},
    "day, all sections": {"window": "day"},
    "month calendar, all sections": {"window": "month", "mode": "calendar", "periods": "6"},
    "week, 52 periods of history": {"periods": "52"},
}


def _ms(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _requests_in(db: Database) -> int:
    if not db.table_exists("rollup_model_hourly"):
        if not db.table_exists("rollup_hourly"):
            return 0
        return int(db.rows("SELECT COALESCE(SUM(requests), 0) FROM rollup_hourly")[0][0])
    return int(db.rows("SELECT COALESCE(SUM(requests), 0) FROM rollup_model_hourly")[0][0])


def fill_if_needed(url: str, rows: int, days: int, end: float) -> None:
    db = Database(url, readonly=False)
    have = _requests_in(db) if db.exists() else 0
    db.close()
    if have >= rows:
        print(f"ledger has {have:,} requests; no fill needed")
        return
    print(f"filling {rows:,} synthetic requests over {days} days (lab.synth)...", flush=True)
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 500_000 == 0 or done == total:
            print(f"  {done:,}/{total:,}  {time.perf_counter() - t0:,.0f}s", flush=True)

    synth.fill(url, rows, days=days, end=end, progress=progress)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--end", type=float, default=1_772_323_199.0, help="synth end (Unix s)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--budget-ms", type=float, default=200.0)
    args = ap.parse_args(argv)

    fill_if_needed(args.database_url, args.rows, args.days, args.end)
    t0 = time.perf_counter()
    applied = rollups.ensure(args.database_url)
    took = time.perf_counter() - t0
    print(f"analytics migrations: {applied or 'already applied'} ({took:.1f}s)")

    db = Database(args.database_url)
    source = RollupSource(args.database_url)
    try:
        _sizes(db)
        worst = _latencies(source, args.repeat)
        _contrast_and_plans(db, source)
    finally:
        source.close()
        db.close()
    verdict = "within" if worst <= args.budget_ms else "OVER"
    print(f"\nworst p95 {worst:.1f} ms: {verdict} the {args.budget_ms:.0f} ms budget")
    return 0 if worst <= args.budget_ms else 1


def _sizes(db: Database) -> None:
    print(f"requests in the ledger: {_requests_in(db):,}")
    for table in ("rollup_hourly", *(t for t, _ in rollups.DIMENSIONS.values())):
        print(f"  {table}: {db.rows(f'SELECT COUNT(*) FROM {table}')[0][0]:,} rows")


def _latencies(source: RollupSource, repeat: int) -> float:
    catalog = Catalog.load()
    worst = 0.0
    print(f"\nrankings latency over {repeat} runs (ms), end=latest, after one warm-up:")
    for name, params in QUERIES.items():
        run = functools.partial(compute, parse_query({"end": "latest", **params}), source, catalog)
        run()
        times = sorted(_ms(run, repeat))
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        worst = max(worst, p95)
        median = statistics.median(times)
        print(f"  {name:34} p50 {median:7.1f}  p95 {p95:7.1f}  max {times[-1]:7.1f}")
    return worst


def _contrast_and_plans(db: Database, source: RollupSource) -> None:
    p = period_plan("week", "rolling", (source.latest_hour() or 0) + 3600, 8)
    naive = (
        f"SELECT model_served, SUM(prompt_tokens), SUM(completion_tokens) FROM rollup_hourly "
        f"WHERE hour >= {db.param} AND hour < {db.param} GROUP BY model_served"
    )
    times = _ms(lambda: db.rows(naive, (p.current.since, p.current.until)), 3)
    print(f"\nfor contrast, one week by model straight from rollup_hourly: {min(times):.0f} ms")
    print("\nquery plans (the per-period sums, week window with 8 periods):")
    dims: tuple[SourceDimension, ...] = ("model", "app", "key")
    for dim in dims:
        print(f"  {dim}:")
        for line in source.explain(dim, p.periods):
            print(f"    {line}")


if __name__ == "__main__":
    raise SystemExit(main())
