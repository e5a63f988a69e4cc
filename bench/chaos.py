"""Chaos: upstreams that fail a share of their calls, and what clients still get (issue 25).

    python bench/chaos.py                       # ~1-2 min, 4 scenarios x 2 x 300 requests
    python bench/chaos.py --requests 100 --fail 0.3 --scenarios two,one

Fake upstreams on loopback (`tokenport.lab.fake`), each call failing with probability
`--fail`, drawn independently and split evenly between: HTTP 500, HTTP 429 (no
Retry-After), a hang (no byte comes: the attempt times out after `--attempt-timeout`), and
a connection cut (a stream: after 0 to all-but-one of its text deltas; a non-streamed call:
before any answer). The providers declare DeepSeek-style prefix continuation, which the
fake honours, so a stream cut mid-answer can be resumed. A gateway runs in this process
(uvicorn in a thread); `--concurrency` clients send `--requests` non-streamed and as many
streamed chat requests per scenario.

Scenarios (the model `chaos` is served by each listed provider):
    two       two providers, retries and resume as configured
    one       one provider, same
    two_off   two providers, the gateway as it was before retries and resume: one attempt
              per route (max_attempts = 2), no same-route retry, no resume
    two_20    two providers with the default budget (20%) instead of `--budget-ratio`
    slow      two providers that never fail, but `--slow-share` of their calls wait
              `--slow-ms` before the first byte (20 ms otherwise)
    slow_hedge  the same, with hedged requests on: p99 gained, upstream calls spent

Per scenario it reports: non-streamed success, streamed complete (HTTP 200, the whole text
exactly, a finish reason, no error event), latency p50/p99/max against the deadline
(`--deadline`, the gateway's request_timeout_s), upstream calls per client request
(counted at the fakes), and the retry budget's grants and denials. Results: stdout and
bench/out/chaos.json. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The quick brown fox jumps over the lazy dog while the cat watches from the wall."
CHUNKS = 8
MESSAGES = [{"role": "user", "content": "say something"}]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=300, help="per kind (plain, stream)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--fail", type=float, default=0.3)
    p.add_argument("--attempt-timeout", type=float, default=1.0)
    p.add_argument("--deadline", type=float, default=10.0)
    p.add_argument("--budget-ratio", type=float, default=0.5)
    p.add_argument("--budget-burst", type=float, default=20.0, help="the config's default")
    p.add_argument("--scenarios", default="two,one,two_off,two_20,slow,slow_hedge")
    p.add_argument("--slow-share", type=float, default=0.05)
    p.add_argument("--slow-ms", type=float, default=800.0)
    # Few clients at once for the slow scenarios: their latency is the upstreams', not the
    # queue of a busy in-process gateway.
    p.add_argument("--slow-concurrency", type=int, default=4)
    p.add_argument("--seed", type=int, default=25)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "chaos.json")
    return p.parse_args(argv)


class Chaos:
    """Draws each upstream call's script and counts the calls."""

    def __init__(
        self, fail: float, rng: random.Random, slow_share: float = 0.0, slow_ms: float = 0.0
    ) -> None:
        from tokenport.lab.fake import Script

        self.fail, self.rng, self.calls = fail, rng, 0
        self.slow_share = slow_share
        # No failures, but a share of calls slow before their first byte (the hedge's case).
        self.slow = (
            [
                Script(text=TEXT, chunks=CHUNKS, latency_ms=20.0),
                Script(text=TEXT, chunks=CHUNKS, latency_ms=slow_ms),
            ]
            if slow_share
            else []
        )
        ok = Script(text=TEXT, chunks=CHUNKS)
        self.ok = ok
        self.bad = [
            Script(text=TEXT, chunks=CHUNKS, status=500),
            Script(text=TEXT, chunks=CHUNKS, status=429),
            Script(text=TEXT, chunks=CHUNKS, hang=True),
            *(Script(text=TEXT, chunks=CHUNKS, cut_after=k) for k in range(CHUNKS)),
        ]

    def pick(self) -> Any:
        self.calls += 1  # under the fake's lock
        if self.slow:
            return self.slow[self.rng.random() < self.slow_share]
        if self.rng.random() >= self.fail:
            return self.ok
        kind = self.rng.randrange(4)
        return self.bad[kind] if kind < 3 else self.bad[3 + self.rng.randrange(CHUNKS)]


def settings(tmp: Path, fakes: dict[str, Any], args: argparse.Namespace, **res: Any) -> Any:
    from tokenport.config import Settings

    model = {"id": "chaos", "slug": "chaos", "author": "tokenport", "country": "US"}
    model.update(context_length=8192, input_price=1.0, output_price=2.0)
    providers = {
        name: {
            "base_url": fake.base_url + "/v1",
            "models": [model],
            "continuation": {"mode": "prefix"},
        }
        for name, fake in fakes.items()
    }
    return Settings.model_validate(
        {
            "data_dir": str(tmp),
            "local": {"enabled": False},
            "providers": providers,
            "attempt_timeout_s": args.attempt_timeout,
            "stream_idle_timeout_s": args.attempt_timeout,
            "request_timeout_s": args.deadline,
            "ledger_sync": "process",
            "metrics": {"open": True},
            "resilience": {
                "budget_ratio": args.budget_ratio,
                "budget_burst": args.budget_burst,
                **res,
            },
        }
    )


def start(s: Any) -> tuple[str, Any, uvicorn.Server, threading.Thread]:
    from tokenport.api.app import create_app

    app = create_app(s, env={})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", app, server, thread


async def one(session: aiohttp.ClientSession, url: str, stream: bool) -> tuple[bool, float]:
    body = {"model": "chaos", "messages": MESSAGES, "stream": stream}
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=body) as r:
            raw = await r.read()
            ok = r.status == 200 and (complete(raw) if stream else answered(raw))
    except aiohttp.ClientError:
        ok = False
    return ok, time.perf_counter() - t0


def answered(raw: bytes) -> bool:
    return bool(json.loads(raw)["choices"][0]["message"]["content"] == TEXT)


def complete(raw: bytes) -> bool:
    """The whole text, once, a finish reason, no error event, and [DONE]."""
    data = [ln[6:] for ln in raw.decode().splitlines() if ln.startswith("data: ")]
    if not data or data[-1] != "[DONE]":
        return False
    text, finish = "", None
    for item in data[:-1]:
        chunk = json.loads(item)
        if "error" in chunk:
            return False
        for choice in chunk.get("choices") or ():
            text += choice["delta"].get("content") or ""
            finish = choice.get("finish_reason") or finish
    return text == TEXT and finish == "stop"


async def load(url: str, n: int, stream: bool, concurrency: int) -> list[tuple[bool, float]]:
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def run() -> tuple[bool, float]:
            async with gate:
                return await one(session, url, stream)

        return await asyncio.gather(*(run() for _ in range(n)))


def recoveries(base: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("tokenport_recoveries_total{"):
            labels, value = line.rsplit(" ", 1)
            kind = labels.split('kind="')[1].split('"')[0]
            out[kind] = out.get(kind, 0.0) + float(value)
    return out


def scenario(name: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    from tokenport.lab.fake import FakeUpstream

    count = 1 if name == "one" else 2
    slow = (args.slow_share, args.slow_ms) if name.startswith("slow") else (0.0, 0.0)
    chaos = [Chaos(args.fail, rng, *slow) for _ in range(count)]
    fakes = {f"p{i + 1}": FakeUpstream.start_in_thread(pick=c.pick) for i, c in enumerate(chaos)}
    res: dict[str, Any] = {}
    if name == "two_off":
        res = {"max_attempts": 2, "resume": False}
    if name == "two_20":
        res = {"budget_ratio": 0.2}
    if name == "slow_hedge":
        res = {"hedge_models": ["chaos"]}
    tmp = Path(tempfile.mkdtemp(prefix=f"tokenport-chaos-{name}-"))
    base, app, server, thread = start(settings(tmp, fakes, args, **res))
    url = base + "/v1/chat/completions"
    try:
        t0 = time.perf_counter()
        clients = args.slow_concurrency if name.startswith("slow") else args.concurrency
        plain = asyncio.run(load(url, args.requests, False, clients))
        streamed = asyncio.run(load(url, args.requests, True, clients))
        took = time.perf_counter() - t0
        budget = app.state.tp.gateway.budget
        seen = recoveries(base)
    finally:
        server.should_exit = True
        thread.join(15)
        for fake in fakes.values():
            fake.stop()
    latency = np.array([t for _, t in plain + streamed])
    calls = sum(c.calls for c in chaos)
    return {
        "providers": count,
        "plain_success": sum(ok for ok, _ in plain) / len(plain),
        "stream_complete": sum(ok for ok, _ in streamed) / len(streamed),
        "latency_s": {
            "p50": float(np.percentile(latency, 50)),
            "p99": float(np.percentile(latency, 99)),
            "max": float(latency.max()),
            "deadline": args.deadline,
        },
        "upstream_calls_per_request": calls / (len(plain) + len(streamed)),
        "budget": {"granted": budget.spent, "denied": budget.denied},
        "recoveries": seen,
        "seconds": took,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Cut and cancelled connections are the point here, not news: keep the output to figures.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.getLogger("tokenport.providers").setLevel(logging.ERROR)
    rng = random.Random(args.seed)
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    for name in args.scenarios.split(","):
        result = out[name] = scenario(name, args, rng)
        lat = result["latency_s"]
        print(
            f"{name:8} plain {result['plain_success']:.2%}  stream {result['stream_complete']:.2%}"
            f"  p50 {lat['p50']:.2f}s p99 {lat['p99']:.2f}s max {lat['max']:.2f}s"
            f" (deadline {lat['deadline']:g}s)  calls/request "
            f"{result['upstream_calls_per_request']:.2f}  budget {result['budget']}"
            f"  recoveries {result['recoveries']}  ({result['seconds']:.0f}s)",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
