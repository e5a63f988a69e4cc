"""Play a scenario through a real gateway and write the ground truth.

    red team's upstream (loopback thread) <- `tokenport serve` (its own process,
    simulation = true, trusted_proxies = [127.0.0.1]) <- openai SDK clients

Keys are bought over the admin API with the account's simulated purchase time
(`X-Tokenport-Sim-Time`) and address (`X-Forwarded-For`, read because loopback is a trusted
proxy); requests carry their simulated time, address and User-Agent the same way. Key names
are opaque, so nothing but the traffic tells a detector who is who.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import openai

from tokenport.lab.launch import serve_argv
from tokenport.lab.redteam.model import Account, Message, Request
from tokenport.lab.redteam.upstream import Upstream

MODEL = "redteam/model"
_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Run a shell command.",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        },
    }
]


class Truth(msgspec.Struct):
    """What the red team knows about one key."""

    label: str  # abuse | honest
    group: str  # the style or the population
    unit: str  # the campaign, class, app...
    requests: int


@dataclass(slots=True)
class Played:
    database_url: str
    truth: dict[str, Truth]
    sent: int
    failed: int
    seconds: float


def _config(work: Path, upstream: Upstream, database_url: str) -> Path:
    path = work / "gateway.toml"
    path.write_text(
        f'data_dir = "{work / "data"}"\ndatabase_url = "{database_url}"\n'
        'simulation = true\nrequire_keys = true\ntrusted_proxies = ["127.0.0.1"]\n'
        'ledger_sync = "process"\nbreaker_failures = 1000000000\n\n[local]\nenabled = false\n\n'
        f'[providers.redteam]\nbase_url = "{upstream.base_url}"\nprotocol = "openai"\n'
        'models = [{ id = "model", input_price = 1.0, output_price = 4.0 }]\n'
    )
    return path


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become healthy")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _messages(msgs: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in msgs:
        if m.role == "assistant" and m.tool_call_id:
            out.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": m.tool_call_id,
                            "type": "function",
                            "function": {"name": "bash", "arguments": "{}"},
                        }
                    ],
                }
            )
        elif m.role == "tool":
            out.append({"role": "tool", "content": m.content, "tool_call_id": m.tool_call_id})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def _headers(ts: float, ip: str, ua: str | None = None, app: str | None = None) -> dict[str, str]:
    h = {"X-Tokenport-Sim-Time": f"{ts:.3f}", "X-Forwarded-For": ip}
    if ua:
        h["User-Agent"] = ua
    if app:
        h["X-Title"] = app
    return h


class _Player:
    def __init__(self, base: str, admin: str, concurrency: int) -> None:
        self.base, self.admin = base, admin
        # The SDK's own client type, shared by every key's SDK client and the key purchases.
        self.http = openai.DefaultAsyncHttpxClient(timeout=120.0)
        self.sem = asyncio.Semaphore(concurrency)
        self.failed = 0

    async def buy(self, acct: Account) -> tuple[str, str]:
        async with self.sem:
            r = await self.http.post(
                f"{self.base}/api/v1/keys",
                json={"name": f"k-{secrets.token_hex(4)}"},
                headers={
                    "Authorization": f"Bearer {self.admin}",
                    **_headers(acct.created_at, acct.created_ip),
                },
            )
        r.raise_for_status()
        return r.json()["data"]["id"], r.json()["key"]

    async def send(self, client: openai.AsyncOpenAI, req: Request) -> None:
        kw: dict[str, Any] = {
            "model": MODEL,
            "messages": _messages(req.messages),
            "extra_headers": _headers(req.ts, req.ip, req.user_agent, req.app),
        }
        if req.max_tokens is not None:
            kw["max_tokens"] = req.max_tokens
        if req.temperature is not None:
            kw["temperature"] = req.temperature
        if req.tools:
            kw["tools"] = _TOOLS
        if req.reasoning:
            kw["reasoning_effort"] = "high"
        async with self.sem:
            try:
                await client.chat.completions.create(**kw)
            except openai.APIError:
                self.failed += 1


async def _play(
    base: str, admin: str, accounts: list[Account], concurrency: int
) -> tuple[dict[str, Truth], int, int]:
    p = _Player(base, admin, concurrency)
    async with p.http:
        keys = await asyncio.gather(*(p.buy(a) for a in accounts))
        clients = [
            openai.AsyncOpenAI(
                api_key=secret, base_url=f"{base}/v1", http_client=p.http, max_retries=0
            )
            for _, secret in keys
        ]
        plan = sorted(
            ((r.ts, i, r) for i, a in enumerate(accounts) for r in a.requests), key=lambda x: x[:2]
        )
        step = 2000  # keep the number of pending tasks bounded
        for k in range(0, len(plan), step):
            await asyncio.gather(*(p.send(clients[i], r) for _, i, r in plan[k : k + step]))
    truth = {
        kid: Truth(a.label, a.group, a.unit, len(a.requests))
        for (kid, _), a in zip(keys, accounts, strict=True)
    }
    return truth, len(plan), p.failed


def play(
    accounts: list[Account], work: Path, database_url: str | None = None, concurrency: int = 16
) -> Played:
    """Run every account's traffic through a fresh gateway; write `truth.json` into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{work / 'ledger.db'}"
    upstream = Upstream().start()
    port, admin = _free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": admin}
    log = (work / "gateway.log").open("wb")
    proc = subprocess.Popen(
        serve_argv(_config(work, upstream, url), port), env=env, stdout=log, stderr=log
    )
    t0 = time.monotonic()
    try:
        _wait_healthy(port, proc)
        truth, sent, failed = asyncio.run(
            _play(f"http://127.0.0.1:{port}", admin, accounts, concurrency)
        )
    finally:
        proc.terminate()  # a graceful stop writes the ledger's last batch
        proc.wait(120)
        upstream.stop()
        log.close()
    (work / "truth.json").write_bytes(msgspec.json.format(msgspec.json.encode(truth)))
    return Played(url, truth, sent, failed, time.monotonic() - t0)
