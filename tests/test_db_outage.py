"""A database outage under a running gateway: 503s where the database is needed, nothing lost.

PostgreSQL is reached through a TCP proxy the test cuts and restores, so the real server
(shared by other tests) is never stopped.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import psycopg
import pytest

from _helpers import http_json
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.ledger.store import open_store
from tokenport.security.keys import to_nano

pytestmark = pytest.mark.postgres
ADMIN = "admin-secret-outage-0123456789"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]


class Proxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; `cut()` drops every connection and refuses new."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target = target_port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {cw, uw}
        await asyncio.gather(self._pipe(cr, uw), self._pipe(ur, cw))

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        self.writers.clear()

    def run(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        self.run(self._start())

    def cut(self) -> None:
        self.run(self._cut())

    async def _close(self) -> None:
        if self.server is not None and self.server.is_serving():
            await self._cut()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Stop forwarding and end every pipe, so none is left pending on a stopped loop."""
        self.run(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    p.start()
    yield p
    p.close()


def test_outage_gives_503_and_the_journal_catches_up(
    pg_url: str, proxy: Proxy, fake: FakeUpstream, gateway_factory: Any
) -> None:
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    gw = gateway_factory(
        {"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, database_url=via_proxy
    )
    chat = gw.base_url + "/v1/chat/completions"
    body = {"model": "fakeoa/fake-model", "messages": MSG}
    status, out = _call(gw.base_url + "/api/v1/keys", {"name": "o", "limit": 1.0}, ADMIN)
    assert status == 201
    secret = out["key"]

    proxy.cut()
    gw.state.admission.forget()  # no cached key: the next keyed request needs the database
    status, err = _call(chat, body, secret)
    assert status == 503
    assert "key database" in err["error"]["message"] and "Traceback" not in json.dumps(err)
    # Unkeyed traffic is still served; its records wait in the journal.
    answered = [_call(chat, body)[1]["id"] for _ in range(5)]
    assert gw.state.ledger.backlog() > 0

    proxy.start()  # the database is back
    deadline = time.monotonic() + 30
    while gw.state.ledger.backlog() > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    store = open_store(pg_url)
    assert all(store.get(i) is not None for i in answered)
    store.close()
    assert _call(chat, body, secret)[0] == 200


def _call(url: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    return http_json("POST", url, body, token)


def test_an_outage_at_settle_time_cuts_no_answer_and_charges_once(
    pg_url: str, proxy: Proxy, fake: FakeUpstream, gateway_factory: Any
) -> None:
    """Issue 13: answers produced while the database is down reach their clients whole, and
    each is charged exactly once when it is back (by the gateway's retry or the ledger)."""
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    gw = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        database_url=via_proxy,
        key_hold_ttl_s=2.0,  # heartbeats, and so retries, every 1/3 s
        attempt_timeout_s=10.0,
        stream_idle_timeout_s=10.0,
    )
    status, out = _call(gw.base_url + "/api/v1/keys", {"name": "o", "limit": 1.0}, ADMIN)
    assert status == 201
    secret, key_id = out["key"], out["data"]["id"]
    fake.set_script(Script(text="one two three four five six", latency_ms=1500, chunks=3))
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=secret, max_retries=0, timeout=30)

    def plain(_: int) -> str:
        resp = client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=50)
        return resp.choices[0].message.content or ""

    def streamed(_: int) -> str:
        chunks = list(
            client.chat.completions.create(
                model=MODEL,
                messages=MSG,
                max_tokens=50,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].usage is not None  # the closing usage chunk: the stream was whole
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(plain, i) for i in range(6)]
        futures += [pool.submit(streamed, i) for i in range(4)]
        _until(lambda: _key_row(pg_url, key_id)[1] > 0 and len(fake.requests) == 10, 10)
        proxy.cut()  # every request is reserved and upstream; the database goes away
        answers = [f.result(timeout=30) for f in futures]
    assert answers == ["one two three four five six"] * 10
    assert _key_row(pg_url, key_id)[0] == 0  # nothing could be charged during the outage

    proxy.start()
    _until(lambda: _key_row(pg_url, key_id)[1] == 0 and gw.state.ledger.backlog() == 0, 30)
    usage, _ = _key_row(pg_url, key_id)
    costs = _ledger_costs(pg_url, key_id)
    assert len(costs) == 10
    assert usage == sum(to_nano(c) for c in costs)  # each charged once, to the nano
    time.sleep(1.0)  # a late retry or replay must not charge anything again
    assert _key_row(pg_url, key_id) == (usage, 0)


MODEL = "fakeoa/fake-model"


def _until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _key_row(url: str, key_id: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT usage_nano, reserved_nano FROM api_keys WHERE id = %s", (key_id,)
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _ledger_costs(url: str, key_id: str) -> list[float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT cost FROM requests WHERE key_id = %s", (key_id,)).fetchall()
    return [float(r[0]) for r in rows]
