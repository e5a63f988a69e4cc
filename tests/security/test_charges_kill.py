"""A gateway SIGKILLed after answering but before charging: on restart, key usage and the
ledger agree to the nano, recovered from the journal (issue 13, Money).

A real `tokenport serve` on SQLite. The test holds SQLite's write lock from outside while the
upstream answers, so every charge is stuck behind it (the ledger's journal is a file and
takes the records), then kills the process: the window in which a crash used to lose the
charge of an answered request, held open on purpose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from _helpers import free_port, http_json, serve, wait_until
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.security.keys import to_nano

pytestmark = pytest.mark.timeout(120)
ADMIN = "admin-secret-kill-0123456789"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]
REQUESTS = 6


def _key_row(db: Path, key_id: str) -> tuple[int, int]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute(
            "SELECT usage_nano, reserved_nano FROM api_keys WHERE id = ?", (key_id,)
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def _ledger_costs(db: Path, key_id: str) -> list[float]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        rows = conn.execute("SELECT cost FROM requests WHERE key_id = ?", (key_id,)).fetchall()
    finally:
        conn.close()
    return [float(r[0]) for r in rows]


def test_answered_requests_are_charged_after_sigkill(tmp_path: Path, fake: FakeUpstream) -> None:
    db = tmp_path / "ledger.db"
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{db}"\ndata_dir = "{tmp_path}"\nkey_hold_ttl_s = 1\n'
        f'[local]\nenabled = false\n[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN}
    port = free_port()
    first = serve(cfg, port, tmp_path / "first.log", env)
    base = f"http://127.0.0.1:{port}"
    status, out = http_json("POST", base + "/api/v1/keys", {"name": "k", "limit": 1.0}, ADMIN)
    assert status == 201, out
    secret, key_id = out["key"], out["data"]["id"]

    latency_s = 1.5
    fake.set_script(Script(text="one two three", latency_ms=latency_s * 1000))
    client = openai.OpenAI(base_url=base + "/v1", api_key=secret, max_retries=0, timeout=30)

    def call() -> None:
        with contextlib.suppress(openai.APIError):  # the gateway dies under it
            client.chat.completions.create(model="fakeoa/fake-model", messages=MSG, max_tokens=20)

    callers = [threading.Thread(target=call) for _ in range(REQUESTS)]
    for c in callers:
        c.start()
    wait_until(lambda: len(fake.requests) == REQUESTS, 10, "every request to reach the upstream")
    lock = sqlite3.connect(db, isolation_level=None, timeout=10)
    lock.execute("BEGIN IMMEDIATE")  # from here no charge (and no ledger insert) can commit
    try:
        time.sleep(latency_s + 1.0)  # answered, journaled, and stuck charging
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for c in callers:
        c.join(timeout=10)
    assert _key_row(db, key_id)[0] == 0  # nothing was charged before the kill

    second = serve(cfg, free_port(), tmp_path / "second.log", env)
    try:
        # The new process replays the dead one's journal (charging each record) and sweeps
        # its silent holder (giving back what it still held).
        wait_until(
            lambda: len(_ledger_costs(db, key_id)) == REQUESTS and _key_row(db, key_id)[1] == 0,
            30,
            "the journal replay and the sweep",
        )
        usage, _ = _key_row(db, key_id)
        costs = _ledger_costs(db, key_id)
        assert usage == sum(to_nano(c) for c in costs) > 0
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
