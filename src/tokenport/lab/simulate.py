"""`tokenport simulate`: weeks of scenario traffic through the real gateway, as fast as it goes.

    fake upstream per model (loopback) <- gateway (uvicorn thread, simulation=true) <- aiohttp
                                                 |
                                         ledger DB (scratch SQLite, or --database-url)

Each scenario model is served by its own provider `sim-<slug>` on its own fake, declared
with the catalog's price, author and country, so the gateway prices and records it like the
real thing. Requests carry `X-Tokenport-Sim-Time` (the ledger timestamp), `X-Title` (the
app) and a key created per user with its registered country. Latencies are the scenario's,
multiplied by `time_scale`.

The fake answers with a queue of scripts, one pushed per request just before it is sent, so
every planned completion length, cache hit and failure is served exactly once; concurrent
requests may swap scripts, which moves tokens only between in-flight requests of one model.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from tokenport.analytics import rollups
from tokenport.analytics.service import compute
from tokenport.analytics.source import RollupSource
from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog
from tokenport.config import Settings
from tokenport.errors import ConfigError
from tokenport.lab.check import CheckReport, check, check_query
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.lab.launch import serve_in_thread
from tokenport.lab.scenario import Planned, Scenario, key_countries, plan_requests

Progress = Callable[[str, int, int, int], None]  # phase, done, total, failed


@dataclass(slots=True)
class Options:
    scenario: Scenario
    database_url: str
    work_dir: Path  # the gateway's data dir (journal); never the user's own
    requests: int | None = None
    users: int | None = None
    concurrency: int = 32
    seed: int | None = None
    time_scale: float | None = None


class SimResult(msgspec.Struct):
    scenario: str
    database_url: str
    requests: int
    ok: int
    failed: int
    elapsed_s: float
    requests_per_s: float
    check: CheckReport


@dataclass(slots=True)
class _SimModel:
    provider: str
    upstream: str
    entry: ModelEntry
    fake: FakeUpstream
    latency_ms: float
    tokens_per_s: float


def scratch_url(data_dir: Path, name: str) -> tuple[str, Path]:
    """A fresh scratch ledger for a scenario run: (database URL, work dir)."""
    work = data_dir / "simulations" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return f"sqlite:///{work / 'ledger.db'}", work


def run(opts: Options, catalog: Catalog, progress: Progress | None = None) -> SimResult:
    """Blocking: plan, serve, send, drain, check."""
    s = opts.scenario
    users = opts.users or s.scenario.users
    planned = plan_requests(s, opts.requests or s.scenario.requests, opts.seed)
    rollups.ensure(opts.database_url)  # the schema before traffic: keys are created next
    secrets = _create_keys(opts.database_url, s, users)
    models = _start_fakes(s, catalog)
    try:
        started = time.perf_counter()
        ok, failed = _drive(opts, models, planned, secrets, catalog, progress)
        elapsed = time.perf_counter() - started
    finally:
        for m in models:
            m.fake.stop()
    source = RollupSource(opts.database_url)
    try:
        rankings = compute(check_query(s), source, catalog)
    finally:
        source.close()
    report = check(s, rankings, catalog, users)
    return SimResult(
        scenario=s.scenario.name,
        database_url=opts.database_url,
        requests=len(planned),
        ok=ok,
        failed=failed,
        elapsed_s=round(elapsed, 2),
        requests_per_s=round(len(planned) / elapsed, 1) if elapsed else 0.0,
        check=report,
    )


def _create_keys(url: str, s: Scenario, users: int) -> list[str]:
    from tokenport.security.keystore import KeyStore

    store = KeyStore(url)
    try:
        countries = key_countries(s, users)
        return [
            store.create(f"sim-{(c or 'xx').lower()}-{i:04d}", country=c).secret
            for i, c in enumerate(countries)
        ]
    finally:
        store.close()


def _start_fakes(s: Scenario, catalog: Catalog) -> list[_SimModel]:
    out: list[_SimModel] = []
    try:
        for spec in s.models:
            entry = catalog.get(spec.id)
            if entry is None:
                raise ConfigError(f"Scenario model {spec.id!r} is not in the catalog.")
            if spec.label:
                entry = msgspec.structs.replace(entry, name=spec.label)
            provider = "sim-" + re.sub(r"[^a-z0-9]+", "-", entry.slug.lower()).strip("-")
            fake = FakeUpstream.start_in_thread(models=(entry.upstream_id,), record_limit=0)
            sim = _SimModel(provider, entry.upstream_id, entry, fake, 0.0, 0.0)
            sim.latency_ms, sim.tokens_per_s = spec.latency_ms, spec.tokens_per_s
            out.append(sim)
    except BaseException:
        for m in out:
            m.fake.stop()
        raise
    return out


def _settings(opts: Options, models: list[_SimModel]) -> Settings:
    providers: dict[str, Any] = {}
    for m in models:
        anthropic = m.entry.provider == "anthropic"  # exercise both wire protocols
        p = m.entry.pricing
        providers[m.provider] = {
            "base_url": m.fake.base_url if anthropic else m.fake.base_url + "/v1",
            "protocol": "anthropic" if anthropic else "openai",
            "models": [
                {
                    "id": m.upstream,
                    "name": m.entry.name,
                    "slug": m.entry.slug,
                    "author": m.entry.author,
                    "country": m.entry.country,
                    "input_price": p.input,
                    "output_price": p.output,
                    "cache_read_price": p.cache_read,
                    "cache_write_price": p.cache_write,
                    "context_length": m.entry.context_length,
                }
            ],
        }
    return Settings.model_validate(
        {
            "data_dir": str(opts.work_dir),
            "database_url": opts.database_url,
            "simulation": True,
            "local": {"enabled": False},
            "providers": providers,
            # Scripted failures are part of the workload; a breaker would turn them into
            # refusals that never reach the fake and would desynchronise its script queue.
            "breaker_failures": 1_000_000_000,
            "attempt_timeout_s": 60.0,
            # Likewise retries and resumes: a retried scripted failure would take the next
            # request's turn from the fake's queue. Each planned failure stays one failure.
            "resilience": {"max_attempts": 1, "resume": False},
        }
    )


def _drive(
    opts: Options,
    models: list[_SimModel],
    planned: list[Planned],
    secrets: list[str],
    catalog: Catalog,
    progress: Progress | None,
) -> tuple[int, int]:
    from tokenport.api.app import create_app

    app = create_app(_settings(opts, models), env={}, catalog=catalog)
    server, thread, port = serve_in_thread(app, "sim-gateway")
    try:
        scale = opts.scenario.scenario.time_scale if opts.time_scale is None else opts.time_scale
        sender = _Sender(f"http://127.0.0.1:{port}", models, secrets, scale, progress)
        counts = asyncio.run(sender.send_all(planned, opts.concurrency))
        _drain(app.state.tp, progress)
        return counts
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _drain(state: Any, progress: Progress | None, timeout: float = 120.0) -> None:
    """Wait until the ledger has written every record (the gateway's stop would finish it
    too, but only up to its own timeout, and silently)."""
    deadline = time.monotonic() + timeout
    first = max(1, state.ledger.backlog())
    while (left := state.ledger.backlog()) > 0 and time.monotonic() < deadline:
        if progress is not None:
            progress("ledger", first - left, first, 0)
        time.sleep(0.05)
    if progress is not None:
        progress("ledger", first, first, 0)


class _Sender:
    def __init__(
        self,
        base_url: str,
        models: list[_SimModel],
        secrets: list[str],
        time_scale: float,
        progress: Progress | None,
    ) -> None:
        self.url = base_url + "/v1/chat/completions"
        self.models = models
        self.secrets = secrets
        self.scale = time_scale
        self.progress = progress
        self.done = self.failed = 0

    async def send_all(self, planned: list[Planned], concurrency: int) -> tuple[int, int]:
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        queue: asyncio.Queue[Planned] = asyncio.Queue()
        for p in planned:
            queue.put_nowait(p)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            workers = [
                asyncio.create_task(self._worker(http, queue, len(planned)))
                for _ in range(concurrency)
            ]
            await asyncio.gather(*workers)
        return self.done - self.failed, self.failed

    async def _worker(
        self, http: aiohttp.ClientSession, queue: asyncio.Queue[Planned], total: int
    ) -> None:
        while not queue.empty():
            p = queue.get_nowait()
            ok = await self._send(http, p)
            self.done += 1
            self.failed += not ok
            if self.progress is not None and (self.done % 50 == 0 or self.done == total):
                self.progress("requests", self.done, total, self.failed)

    async def _send(self, http: aiohttp.ClientSession, p: Planned) -> bool:
        m = self.models[p.model]
        m.fake.push(self._script(m, p))
        body = {
            "model": f"{m.provider}/{m.upstream}",
            "messages": [{"role": "user", "content": "x " * p.words}],
            "stream": p.stream,
        }
        headers = {
            "Authorization": f"Bearer {self.secrets[p.key % len(self.secrets)]}",
            "X-Tokenport-Sim-Time": f"{p.ts:.3f}",
        }
        if p.app:
            headers["X-Title"] = p.app
        try:
            async with http.post(self.url, json=body, headers=headers) as resp:
                await resp.read()
                # The outcome, not the plan: a scripted failure may land on any in-flight
                # request of the same model.
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def _script(self, m: _SimModel, p: Planned) -> Script:
        chunks = max(1, min(8, p.completion))
        generate_ms = p.completion / m.tokens_per_s * 1000 * self.scale
        return Script(
            text="tok " * p.completion,
            latency_ms=m.latency_ms * self.scale,
            chunks=chunks,
            chunk_interval_ms=generate_ms / chunks,
            cache_read_tokens=p.cached,
            status=503 if p.fail else 200,
            tool_calls=False,
        )
