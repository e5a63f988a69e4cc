"""Ledger benchmarks: sustained write rate, and usage reports over a large ledger.

    python bench/ledger_bench.py write  [--rate 5000] [--seconds 10] [--db sqlite|postgres]
                                        [--signals]
    python bench/ledger_bench.py report [--records 10000000] [--db sqlite|postgres] [--reuse]

`write` drives the real `Ledger` (journal with group-commit fsync, then batched database
writes) open-loop at `--rate` appends per second from concurrent appenders, as a serving
gateway would, and reports the appended rate, the committed-to-database rate and whether the
backlog grew. With `--with-gateway-rps N` a real `tokenport serve` (ledger on, same
database) serves N requests per second from `bench/loadgen.py` against `bench/mock.py` for
the same seconds, so the database takes both write streams at once.

`report` fills a ledger with N synthetic records through the real insert path (so rollups
are maintained exactly as in production), then times `tokenport usage`-style reports, which
read only the hourly rollups, and prints the query plan.

Results go to bench/out/ledger.json. PostgreSQL is the local one (127.0.0.1:5432, db test),
in a scratch schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from tokenport.lab import synth
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.signals import RequestSignals
from tokenport.ledger.store import open_store
from tokenport.ledger.writer import Ledger

PG = "postgresql://postgres@127.0.0.1:5432/test"
OUT = Path(__file__).parent / "out"
console = Console()


@contextmanager
def database(kind: str, scratch: Path, keep: str | None = None) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{keep or scratch / 'ledger.db'}"
        return
    schema = keep or f"tp_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        try:
            yield f"{PG}?options=-csearch_path%3D{schema}"
        finally:
            if keep is None:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


def signal_pool(n: int = 5000) -> list[RequestSignals]:
    """Abuse signals as the edge computes them, for requests of the hydra scenario."""
    from tokenport.lab import abuse_traffic
    from tokenport.security.abuse import signals
    from tokenport.wire.openai_chat import parse_chat_request

    _, planned = abuse_traffic.plan(abuse_traffic.load("hydra-ci"))
    step = max(1, len(planned) // n)
    return [
        signals.compute(parse_chat_request(json.dumps(p.body).encode()), {"user-agent": p.ua}, p.ip)
        for p in planned[::step][:n]
    ]


async def _write(
    url: str, journal: Path, rate: int, seconds: float, with_signals: bool = False
) -> dict[str, Any]:
    ledger = Ledger(url, journal)
    await ledger.start()
    pool = synth.records(min(rate * int(seconds), 200_000), seed=1)
    if with_signals:  # every record carries its abuse signals (a request_signals row)
        sigs = signal_pool()
        pool = [msgspec.structs.replace(r, signals=sigs[i % len(sigs)]) for i, r in enumerate(pool)]
    backlog: list[int] = []
    latencies: list[float] = []
    sent = 0
    start = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one(record: LedgerRecord) -> None:
        t0 = time.perf_counter()
        await ledger.append(record)
        latencies.append((time.perf_counter() - t0) * 1000)

    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:  # open loop: the schedule does not wait for slow appends
            r = pool[sent % len(pool)]
            t = asyncio.create_task(one(msgspec.structs.replace(r, id=f"b{sent}")))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            sent += 1
        if int(elapsed * 10) > len(backlog):
            backlog.append(ledger.backlog())
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    append_s = time.perf_counter() - start
    stats = ledger.stats()
    await ledger.drain(timeout=60)
    drained_s = time.perf_counter() - start
    await ledger.stop()
    latencies.sort()
    return {
        "target_rate": rate,
        "seconds": seconds,
        "appended": sent,
        "append_rate": round(sent / append_s),
        "committed_during_load": stats.committed,
        "committed_rate_during_load": round(stats.committed / append_s),
        "committed_rate_incl_drain": round(sent / drained_s),
        "drain_after_load_s": round(drained_s - append_s, 2),
        "backlog_samples": backlog[:: max(1, len(backlog) // 10)],
        "backlog_max": max(backlog or [0]),
        "append_p50_ms": round(statistics.median(latencies), 2),
        "append_p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
    }


def write(
    db: str, rate: int, seconds: float, gateway_rps: int = 0, with_signals: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, database(db, Path(tmp)) as url:
        if gateway_rps:
            with _gateway(url, Path(tmp), gateway_rps, seconds) as served:
                result = asyncio.run(
                    _write(url, Path(tmp) / "journal", rate, seconds, with_signals)
                )
            result["gateway"] = served
        else:
            result = asyncio.run(_write(url, Path(tmp) / "journal", rate, seconds, with_signals))
    result["db"] = db
    result["signals"] = with_signals
    return result


@contextmanager
def _gateway(url: str, tmp: Path, rps: int, seconds: float) -> Iterator[dict[str, Any]]:
    """tokenport serve (ledger on `url`) under `rps` of open-loop load while the body runs."""
    import socket
    import subprocess
    import sys
    import urllib.request

    from tokenport.lab.launch import serve_argv

    def port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    mock_port, gw_port = port(), port()
    cfg = tmp / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp / "gw"}"\ndatabase_url = "{url}"\n[local]\nenabled = false\n'
        f'[providers.mock]\nbase_url = "http://127.0.0.1:{mock_port}/v1"\n'
        'models = [{ id = "mock-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    here = Path(__file__).parent
    mock = subprocess.Popen(
        [sys.executable, str(here / "mock.py"), "--port", str(mock_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gw = subprocess.Popen(
        serve_argv(cfg, gw_port, "--log-level", "warning"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served: dict[str, Any] = {"rps": rps}
    try:
        base = f"http://127.0.0.1:{gw_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("tokenport serve did not start") from None
                time.sleep(0.2)
        load = subprocess.Popen(
            [
                sys.executable,
                str(here / "loadgen.py"),
                "rate",
                "--url",
                base + "/v1/chat/completions",
                "--model",
                "mock/mock-model",
                "--rate",
                str(rps),
                "--duration",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        yield served
        out, _ = load.communicate(timeout=seconds + 60)
        report = json.loads(out)
        served.update({k: report.get(k) for k in ("requests", "errors", "achieved_rps")})
        served["latency_ms"] = report.get("latency_ms")
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            served["gateway_ledger_backlog_after"] = json.loads(r.read())["ledger_backlog"]
    finally:
        for proc in (gw, mock):
            proc.terminate()
            proc.wait(timeout=30)


def _plan(url: str, db: str, end: int) -> list[str]:
    sql = (
        "SELECT key_id, model_served, day, SUM(cost) FROM rollup_daily WHERE day >= {p} "
        "AND day < {p} GROUP BY key_id, model_served, day"
    )
    window = (end - 30 * 86400, end)
    if db == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql.format(p="?"), window).fetchall()
        conn.close()
        return [str(r[-1]) for r in rows]
    with psycopg.connect(url) as conn:
        rows = conn.execute("EXPLAIN ANALYZE " + sql.format(p="%s"), window).fetchall()
    return [str(r[0]) for r in rows]


def report(db: str, records: int, reuse: str | None, url: str | None = None) -> dict[str, Any]:
    keep_dir = OUT / "ledger-10m" if reuse else None
    if keep_dir:
        keep_dir.mkdir(parents=True, exist_ok=True)
    keep = (str(keep_dir / "ledger.db") if db == "sqlite" else reuse) if reuse else None
    with tempfile.TemporaryDirectory() as tmp:
        if url is not None:
            return _report(db, url, records)
        with database(db, Path(tmp), keep) as scratch:
            return _report(db, scratch, records)


def _fill(url: str, records: int) -> float:
    store = open_store(url)
    store.migrate()  # also backfills any rollup table added since the ledger was filled
    have = store.usage_report(0, 4e9)
    existing = have[0].requests if have else 0
    store.close()
    if existing >= records:
        return 0.0
    t0 = time.perf_counter()
    columns = (
        TextColumn("filling ledger"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("fill", total=records - existing)
        synth.fill(
            url,
            records - existing,
            seed=existing + 7,
            days=30,
            progress=lambda done, n: bar.update(task, completed=done),
        )
    return time.perf_counter() - t0


def _report(db: str, url: str, records: int) -> dict[str, Any]:
    """Time `tokenport usage` the way it asks: whole UTC days up to the newest data."""
    fill_s = _fill(url, records)
    store = open_store(url)
    newest = max((r.bucket or 0 for r in store.usage_report(0, 4e9, ["day"])), default=0)
    end = newest + 86400  # the midnight after the newest data, as "today" is for a live ledger
    shapes = {
        "by key,model,day (30 days)": (30, ("key_id", "model_served", "day")),
        "by key,model,day (7 days, the CLI default)": (7, ("key_id", "model_served", "day")),
        "by model (7 days)": (7, ("model_served",)),
        "by key (1 day)": (1, ("key_id",)),
        "by model, hourly rollups (7 days, not day-aligned)": (7, ("model_served",)),
    }
    timings: dict[str, list[float]] = {}
    groups: dict[str, int] = {}
    for name, (days, group) in shapes.items():
        since = end - days * 86400 + (3600 if "hourly" in name else 0)
        timings[name] = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows = store.usage_report(since, end, group)
            timings[name].append((time.perf_counter() - t0) * 1000)
        groups[name] = len(rows)
    total = store.usage_report(0, 4e9)
    store.close()
    return {
        "db": db,
        "records": total[0].requests if total else 0,
        "fill_s": round(fill_s, 1),
        "report_ms": {
            k: {
                "median": round(statistics.median(v), 1),
                "max": round(max(v), 1),
                "groups": groups[k],
            }
            for k, v in timings.items()
        },
        "query_plan": _plan(url, db, end),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("what", choices=["write", "report"])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument(
        "--database-url",
        default=None,
        help="report: use this existing ledger (filled up to --records if smaller)",
    )
    ap.add_argument(
        "--with-gateway-rps",
        type=int,
        default=0,
        help="write: also serve this many requests/s through tokenport serve",
    )
    ap.add_argument(
        "--signals",
        action="store_true",
        help="write: every record carries abuse signals (written to request_signals)",
    )
    ap.add_argument(
        "--reuse",
        metavar="SCHEMA_OR_ANY",
        default=None,
        help="keep and reuse the filled ledger (bench/out/ledger-10m for SQLite, "
        "this schema name for PostgreSQL)",
    )
    args = ap.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = []
    for db in dbs:
        r = (
            write(db, args.rate, args.seconds, args.with_gateway_rps, args.signals)
            if args.what == "write"
            else report(db, args.records, args.reuse, args.database_url)
        )
        console.print_json(json.dumps(r))
        results.append(r)
    OUT.mkdir(exist_ok=True)
    path = OUT / f"ledger-{args.what}.json"
    path.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
