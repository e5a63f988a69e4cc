"""`tokenport abuse simulate`: an abuse scenario sent through a real gateway, then scanned.

    fake upstream (loopback) <- gateway (uvicorn thread; simulation = true,
                                trusted_proxies = [127.0.0.1], keys required)
                             <- aiohttp: keys made with POST /api/v1/keys at their simulated
                                creation time, then every planned request with
                                X-Tokenport-Sim-Time, X-Forwarded-For (the client's address,
                                vouched for by the trusted local proxy) and its User-Agent

Then `tokenport abuse scan` runs on the ledger, and the verdicts are scored against the
plan's truth (`abuse_eval.evaluate`): recall over campaign accounts, false-positive rate
over honest ones. The truth (key id -> account) is written beside the ledger, so the scan
can be rerun, or run by anyone else, on the same traffic.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from tokenport.abusescan.scan import scan
from tokenport.catalog.store import Catalog
from tokenport.config import Settings
from tokenport.errors import ServiceUnavailable
from tokenport.lab.abuse_eval import Metrics, evaluate
from tokenport.lab.abuse_traffic import AbuseScenario, Account, Planned, plan
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.lab.launch import serve_in_thread

Progress = Callable[[str, int, int], None]
ADMIN_ENV = "TOKENPORT_SIM_ADMIN_KEY"
_MODELS = ("frontier", "mid", "small")


@dataclass(slots=True)
class Options:
    scenario: AbuseScenario
    database_url: str
    work_dir: Path
    seed: int | None = None
    concurrency: int = 32


class SimOutcome(msgspec.Struct):
    scenario: str
    database_url: str
    accounts: int
    requests: int
    ok: int
    failed: int
    send_s: float
    scan_s: float
    metrics: Metrics
    truth: str


def _settings(opts: Options, fake: FakeUpstream) -> Settings:
    models = [
        {"id": m, "input_price": 1.0, "output_price": 4.0, "context_length": 400_000}
        for m in _MODELS
    ]
    return Settings.model_validate(
        {
            "data_dir": str(opts.work_dir),
            "database_url": opts.database_url,
            "simulation": True,
            "require_keys": True,
            "trusted_proxies": ["127.0.0.1"],
            "max_body_bytes": 8_000_000,
            "local": {"enabled": False},
            "ledger_sync": "process",
            "breaker_failures": 1_000_000_000,
            "providers": {
                "sim": {"base_url": fake.base_url + "/v1", "protocol": "openai", "models": models}
            },
        }
    )


class _Sender:
    def __init__(self, base: str, admin: str, progress: Progress | None) -> None:
        self.base = base
        self.admin = admin
        self.progress = progress
        self.ok = self.failed = 0

    async def keys(
        self, http: aiohttp.ClientSession, accounts: list[Account]
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for i, acc in enumerate(accounts):
            headers = {
                "Authorization": f"Bearer {self.admin}",
                "X-Tokenport-Sim-Time": f"{acc.created_at:.3f}",
            }
            body = {"name": f"sim-{acc.kind}-{i:05d}"}
            async with http.post(self.base + "/api/v1/keys", json=body, headers=headers) as r:
                made = await r.json()
                if r.status != 201:
                    raise ServiceUnavailable(f"creating a key failed: {r.status} {made}")
                out.append((made["data"]["id"], made["key"]))
            if self.progress is not None and (i % 200 == 0 or i + 1 == len(accounts)):
                self.progress("keys", i + 1, len(accounts))
        return out

    async def send_all(
        self, http: aiohttp.ClientSession, planned: list[Planned], secrets: list[str], n: int
    ) -> None:
        queue: asyncio.Queue[Planned] = asyncio.Queue()
        for p in planned:
            queue.put_nowait(p)
        total = len(planned)

        async def worker() -> None:
            while not queue.empty():
                p = queue.get_nowait()
                headers = {
                    "Authorization": f"Bearer {secrets[p.account]}",
                    "X-Tokenport-Sim-Time": f"{p.ts:.3f}",
                    "X-Forwarded-For": p.ip,
                    "User-Agent": p.ua,
                }
                if p.app:
                    headers["X-Title"] = p.app
                try:
                    async with http.post(
                        self.base + "/v1/chat/completions", json=p.body, headers=headers
                    ) as r:
                        await r.read()
                        good = r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    good = False
                self.ok += good
                self.failed += not good
                done = self.ok + self.failed
                if self.progress is not None and (done % 500 == 0 or done == total):
                    self.progress("requests", done, total)

        await asyncio.gather(*(worker() for _ in range(n)))


async def _drive(
    base: str,
    admin: str,
    accounts: list[Account],
    planned: list[Planned],
    opts: Options,
    progress: Progress | None,
) -> tuple[list[str], int, int]:
    sender = _Sender(base, admin, progress)
    connector = aiohttp.TCPConnector(limit=opts.concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        made = await sender.keys(http, accounts)
        await sender.send_all(http, planned, [s for _, s in made], opts.concurrency)
    return [k for k, _ in made], sender.ok, sender.failed


def run(opts: Options, catalog: Catalog, progress: Progress | None = None) -> SimOutcome:
    """Blocking: plan, serve, send, drain, scan, score."""
    from tokenport.api.app import create_app

    accounts, planned = plan(opts.scenario, opts.seed)
    admin = os.urandom(16).hex()
    fake = FakeUpstream.start_in_thread(
        Script(text="Here is a detailed answer. " * 8, tool_calls=False),
        models=_MODELS,
        record_limit=0,
    )
    try:
        app = create_app(_settings(opts, fake), env={"TOKENPORT_ADMIN_KEY": admin}, catalog=catalog)
        server, thread, port = serve_in_thread(app, "abuse-sim-gateway")
        try:
            started = time.perf_counter()
            key_ids, ok, failed = asyncio.run(
                _drive(f"http://127.0.0.1:{port}", admin, accounts, planned, opts, progress)
            )
            sent = time.perf_counter() - started
            _drain(app.state.tp)
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    finally:
        fake.stop()
    truth = opts.work_dir / "truth.json"
    truth.write_text(
        json.dumps({k: a._asdict() for k, a in zip(key_ids, accounts, strict=True)}, indent=0)
    )
    started = time.perf_counter()
    report = scan(opts.database_url)
    scanned = time.perf_counter() - started
    return SimOutcome(
        scenario=opts.scenario.scenario.name,
        database_url=opts.database_url,
        accounts=len(accounts),
        requests=len(planned),
        ok=ok,
        failed=failed,
        send_s=round(sent, 1),
        scan_s=round(scanned, 2),
        metrics=evaluate(report, accounts, key_ids),
        truth=str(truth),
    )


def _drain(state: Any, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while state.ledger.backlog() > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
