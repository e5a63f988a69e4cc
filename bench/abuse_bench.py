"""Abuse defense benchmarks (issue 17): the scan over a 10M-record ledger, admission with a
policy on, and the edge's cost of computing signals.

    python bench/abuse_bench.py scan [--records 10000000] [--days 28] [--db sqlite|postgres]
                                     [--database-url URL] [--reuse]
    python bench/abuse_bench.py admission [--n 20000]
    python bench/abuse_bench.py edge [--n 5000]

`scan` fills `request_signals` with N records (the hydra-2026 scenario's own signals, as the
edge computed them, replicated over the days with their keys renamed per replica group),
then times a cold scan (every day summarised and cached), a warm rescan (all from the cache)
and the scan after one more day of traffic lands (one day read). `admission` times
`Admission.admit` with the abuse guard on (10,000 keys under actions) against the same
without it. `edge` times `signals.compute` on typical prompts. Results: bench/out/abuse-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tokenport.config import AbuseConfig
from tokenport.db import Database, migrate
from tokenport.ledger import signals as ledger_signals
from tokenport.security.abuse import signals as sig

OUT = Path(__file__).parent / "out"
DAY = 86_400.0
console = Console(stderr=True)


def _pool() -> tuple[list[tuple[Any, ...]], float]:
    """(key, ts offset, signal fields...) for every request of hydra-2026, and its span."""
    from tokenport.lab import abuse_traffic
    from tokenport.wire.openai_chat import parse_chat_request

    s = abuse_traffic.load("hydra-2026")
    _, planned = abuse_traffic.plan(s)
    rows = []
    for p in planned:
        got = sig.compute(
            parse_chat_request(json.dumps(p.body).encode()), {"user-agent": p.ua}, p.ip
        )
        fields = tuple(getattr(got, f) for f in ledger_signals.SIGNAL_FIELDS)
        rows.append((p.account, p.ts - s.start_ts, *fields))
    return rows, s.scenario.days * DAY


def fill(url: str, records: int, days: int, start: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    pool, span = _pool()
    pooled = time.perf_counter() - t0
    db = Database(url, readonly=False)
    migrate(db)
    cols = ", ".join(ledger_signals.COLUMNS)
    marks = ", ".join([db.param] * len(ledger_signals.COLUMNS))
    blocks = max(1, int(days * DAY // span))
    n = 0
    t1 = time.perf_counter()
    replica = 0
    while n < records:
        group, block = replica % 3, (replica // 3) % blocks
        shift = start + block * span + (replica // (3 * blocks)) * 37.0
        batch = []
        for i, row in enumerate(pool):
            if n + len(batch) >= records:
                break
            batch.append(
                (f"s{replica}-{i}", shift + row[1], f"k{group}-{row[0]}", "chat", "ok", 100, 400,
                 "sim/frontier", *row[2:])
            )  # fmt: skip
        with db.transaction() as tx:
            if db.dialect == "postgres":
                tx.copy(f"COPY request_signals ({cols}) FROM STDIN", batch)
            else:
                tx.many(f"INSERT INTO request_signals ({cols}) VALUES ({marks})", batch)
        n += len(batch)
        replica += 1
        console.print(f"filled {n:,}/{records:,}")
    db.close()
    return {"records": n, "pool": len(pool), "pool_s": round(pooled, 1),
            "fill_s": round(time.perf_counter() - t1, 1), "keys_approx": 3 * 5401}  # fmt: skip


def scan_bench(url: str, records: int, days: int, reuse: bool) -> dict[str, Any]:
    from tokenport.abusescan.scan import scan

    start = float(int(time.time() // DAY - days - 2) * DAY)
    db = Database(url, readonly=False)
    migrate(db)
    have = db.rows("SELECT COUNT(*) FROM request_signals")[0][0]
    db.close()
    out: dict[str, Any] = {"url": url.split("?")[0]}
    if not reuse or have < records:
        out["fill"] = fill(url, records - have, days, start)
    t = time.perf_counter()
    cold = scan(url)
    out["cold_scan_s"] = round(time.perf_counter() - t, 1)
    out["cold_days_read"] = cold.days_read
    out["records"] = cold.records
    out["keys"] = len(cold.accounts)
    out["flagged"] = sum(a.flagged for a in cold.accounts)
    t = time.perf_counter()
    warm = scan(url)
    out["warm_scan_s"] = round(time.perf_counter() - t, 1)
    out["warm_days_read"] = warm.days_read
    # one more day lands: the next scan reads that day only
    db = Database(url, readonly=False)
    last = db.rows("SELECT MAX(ts) FROM request_signals")[0][0]
    rows = db.rows(
        f"SELECT {', '.join(ledger_signals.COLUMNS)} FROM request_signals "
        f"WHERE ts >= {db.param} AND ts < {db.param}",
        (last - DAY, last),
    )
    new_day = (int(last // DAY) + 1) * DAY
    moved = [(f"n{i}", new_day + (r[1] % DAY), *r[2:]) for i, r in enumerate(rows)]
    cols = ", ".join(ledger_signals.COLUMNS)
    with db.transaction() as tx:
        if db.dialect == "postgres":
            tx.copy(f"COPY request_signals ({cols}) FROM STDIN", moved)
        else:
            marks = ", ".join([db.param] * len(ledger_signals.COLUMNS))
            tx.many(f"INSERT INTO request_signals ({cols}) VALUES ({marks})", moved)
    db.close()
    t = time.perf_counter()
    inc = scan(url)
    out["incremental_scan_s"] = round(time.perf_counter() - t, 1)
    out["incremental_days_read"] = inc.days_read
    out["incremental_new_records"] = len(moved)
    return out


async def _admission(n: int) -> dict[str, Any]:
    from tokenport.abusescan.action_log import ActionLog
    from tokenport.security.abuse.guard import AbuseGuard
    from tokenport.security.admission import Admission
    from tokenport.security.keystore import KeyStore
    from tokenport.security.limits import MemoryLimiter
    from tokenport.tokens import TokenCounter
    from tokenport.values import ChatRequest, Message, Pricing, Route

    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/a.db"
    keys = KeyStore(url)
    key = keys.create("bench").key
    flagged = keys.create("flagged").key
    store = ActionLog(url)
    for i in range(10_000):
        store.record(f"key_other_{i}", "block", 0.9, None, ["bench"], "bench")
    store.record(flagged.id, "flag", 0.9, None, ["bench"], "bench")
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")])
    routes = [Route("p", "m", "p/m", Pricing(1.0, 2.0))]
    results: dict[str, Any] = {"n": n, "actions_in_force": 10_001}
    for label, guard in (
        ("off", None),
        ("on", AbuseGuard(store, AbuseConfig(policy="block"))),
    ):
        adm = Admission(keys, MemoryLimiter(), TokenCounter(), abuse=guard)
        if guard is not None:
            await guard.reload()
        for who, k in (("clean key", key), ("flagged key", flagged)):
            times = []
            for _ in range(n):
                t = time.perf_counter_ns()
                await adm.admit(k, request, routes, "gen-x")
                times.append((time.perf_counter_ns() - t) / 1000)
            times.sort()
            results[f"{label} / {who}"] = {
                "p50_us": round(statistics.median(times), 2),
                "p99_us": round(times[int(len(times) * 0.99)], 2),
            }
    for who in ("clean key", "flagged key"):
        results[f"added p50 us ({who})"] = round(
            results[f"on / {who}"]["p50_us"] - results[f"off / {who}"]["p50_us"], 2
        )
    store.close()
    keys.close()
    return results


def edge(n: int) -> dict[str, Any]:
    from tokenport.values import ChatRequest, Message

    cases = {
        "chat, 12 words": [Message(role="user", content="what's a good name for my new cat?")],
        "harvest, 60 words": [
            Message(role="system", content="You are an expert tutor."),
            Message(role="user", content="Explain entropy at a graduate level, with a worked "
                    "example and common mistakes. Think step by step. " * 3),
        ],
        "agent, 40 turns, 60k chars": [
            Message(role="system", content="You are a coding agent. " * 200),
            Message(role="user", content="fix the failing test in src/app/server.py"),
            *[Message(role="tool", content="def f():\n    return 1\n" * 60, tool_call_id="c")
              for _ in range(40)],
        ],
    }  # fmt: skip
    out: dict[str, Any] = {}
    for name, messages in cases.items():
        request = ChatRequest(model="m", messages=messages, max_tokens=4096)
        times = []
        for _ in range(n):
            t = time.perf_counter_ns()
            sig.compute(request, {"user-agent": "OpenAI/Python 1.0"}, "203.0.113.9")
            times.append((time.perf_counter_ns() - t) / 1000)
        times.sort()
        out[name] = {"p50_us": round(statistics.median(times), 1),
                     "p99_us": round(times[int(n * 0.99)], 1)}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("what", choices=["scan", "admission", "edge"])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--reuse", action="store_true", help="scan: keep and reuse the filled ledger")
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    if args.what == "scan":
        url = args.database_url or f"sqlite:///{OUT / 'abuse-10m.db'}"
        OUT.mkdir(exist_ok=True)
        result = scan_bench(url, args.records, args.days, args.reuse)
    elif args.what == "admission":
        result = asyncio.run(_admission(args.n))
    else:
        result = edge(args.n)
    result["python"] = sys.version.split()[0]
    print(json.dumps(result, indent=2))
    OUT.mkdir(exist_ok=True)
    (OUT / f"abuse-{args.what}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
