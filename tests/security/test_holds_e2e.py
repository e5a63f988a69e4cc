"""A gateway SIGKILLed mid-request: the credit it had reserved comes back, through a real
`tokenport serve` process, the official openai SDK and the key database (security/holds.py).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import openai

from _helpers import free_port, serve, wait_until
from _helpers import http_json as _call
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.security.keystore import KeyStore

ADMIN = "admin-secret-holds-0123456789"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]


def _reserved(db: str, key_id: str) -> int:
    store = KeyStore(db)
    try:
        return store.get(key_id).reserved_nano
    finally:
        store.close()


def test_reservation_of_a_killed_gateway_is_given_back(tmp_path: Path, fake: FakeUpstream) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'database_url = "{db}"\ndata_dir = "{tmp_path}"\nkey_hold_ttl_s = 1\n'
        f'[local]\nenabled = false\n[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN}
    port = free_port()
    first = serve(cfg, port, tmp_path / "first.log", env)
    base = f"http://127.0.0.1:{port}"
    status, out = _call("POST", base + "/api/v1/keys", {"name": "k", "limit": 1.0}, ADMIN)
    assert status == 201, out
    secret, key_id = out["key"], out["data"]["id"]

    fake.set_script(Script(text="slow", latency_ms=30_000))
    client = openai.OpenAI(base_url=base + "/v1", api_key=secret, max_retries=0, timeout=60)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat.completions.create(model="fakeoa/fake-model", messages=MSG, max_tokens=1000)
        except openai.APIError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: _reserved(db, key_id) > 0, 10, "the request's reservation", interval=0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    caller.join(timeout=10)
    assert errors, "the killed gateway cannot have answered"
    held = _reserved(db, key_id)
    assert held > 0  # nothing settled it: the process died mid-request

    second = serve(cfg, free_port(), tmp_path / "second.log", env)
    try:
        # The dead holder goes silent for key_hold_ttl_s (1 s); the new process's next
        # sweep (every ttl/6) gives its reservation back.
        wait_until(
            lambda: _reserved(db, key_id) == 0,
            15,
            "the dead gateway's hold to be released",
            interval=0.05,
        )
        store = KeyStore(db)
        try:
            key = store.get(key_id)
        finally:
            store.close()
        assert key.usage_nano == 0 and key.remaining_usd == 1.0
        log = (tmp_path / "second.log").read_text()
        assert "released 1 silent gateway process" in log
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
