"""`tokenport serve` as a real process: crash safety of the ledger and secrets kept out of logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _helpers import free_port as _port
from _helpers import http_json, serve
from tokenport.lab.fake import FakeUpstream, Script

MSG: list[Any] = [{"role": "user", "content": "hello there"}]


def _config(tmp: Path, fake: FakeUpstream, extra: str = "") -> Path:
    cfg = tmp / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp}"\n{extra}\n[local]\nenabled = false\n'
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\nkey_env = "FAKE_UPSTREAM_KEY"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    return cfg


def _serve(cfg: Path, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = serve(
        cfg, port, log, {**os.environ, **env}, "--log-level", "debug"
    )
    return proc


@pytest.mark.parametrize("sync", ["fsync", "process"])
def test_sigkill_under_load_loses_no_answered_request(
    tmp_path: Path, fake: FakeUpstream, sync: str
) -> None:
    fake.set_script(Script(text="ok fine", latency_ms=2))
    # The database writer waits 30 s between batches, so at the kill nearly every answered
    # record exists only in the journal: what the restart finds, the journal saved.
    extra = f'ledger_flush_interval_s = 30\nledger_sync = "{sync}"'
    cfg, port = _config(tmp_path, fake, extra), _port()
    env = {"FAKE_UPSTREAM_KEY": "k"}
    proc = _serve(cfg, port, tmp_path / "gw.log", env)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, body = _post(
                    url, {"model": "fakeoa/fake-model", "messages": MSG, "stream": False}, timeout=5
                )
            except OSError:
                continue  # the server died under us: that request never completed
            if status == 200:
                answered.append(body["id"])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(answered) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load, no shutdown of any kind
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(answered) >= 300

    from tokenport.ledger.store import open_store

    before = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    in_db_at_kill = sum(before.get(i) is not None for i in answered)
    before.close()
    assert in_db_at_kill < len(answered) // 2  # the journal, not the DB, must save them

    proc = _serve(cfg, port, tmp_path / "gw.log", env)  # replays the journal on start
    try:
        gen = f"http://127.0.0.1:{port}/api/v1/generation?id="
        missing = []
        for gen_id in answered:
            try:
                urllib.request.urlopen(gen + gen_id, timeout=5).close()
            except urllib.error.HTTPError:
                missing.append(gen_id)
        assert missing == [], f"{len(missing)} of {len(answered)} answered requests lost"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    assert all(store.get(i) is not None for i in answered)  # in the database itself
    store.close()


def test_secrets_never_reach_logs_or_errors(tmp_path: Path, fake: FakeUpstream) -> None:
    upstream_key = "sk-upstream-SECRET-abcdefghijklmnop1234"
    admin_key = "admin-SECRET-0987654321zyxwvut"
    cfg, port = _config(tmp_path, fake), _port()
    log = tmp_path / "gw.log"
    proc = _serve(
        cfg, port, log, {"FAKE_UPSTREAM_KEY": upstream_key, "TOKENPORT_ADMIN_KEY": admin_key}
    )
    base = f"http://127.0.0.1:{port}"
    seen: list[str] = []
    try:
        status, out = _post(base + "/api/v1/keys", {"name": "s"}, admin_key)
        assert status == 201
        client_key = out["key"]
        calls: list[Callable[[], tuple[int, Any]]] = [
            lambda: _post(
                base + "/v1/chat/completions",
                {"model": "fakeoa/fake-model", "messages": MSG},
                client_key,
            ),
            lambda: _post(
                base + "/v1/chat/completions",
                {"model": "fakeoa/fake-model", "messages": MSG},
                client_key + "x",
            ),
            lambda: _post(base + "/api/v1/keys", {"name": "n"}, admin_key + "x"),
        ]
        fake.set_script(Script(status=401))  # the fake echoes the key it was sent
        for call in calls:
            seen.append(json.dumps(call()[1]))
        fake.set_script(Script(status=500, error_message=f"boom {upstream_key}"))
        seen.append(json.dumps(calls[0]()[1]))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    text = log.read_text(errors="replace") + "\n".join(seen)
    assert "upstream rejected" in text  # the errors were produced and logged/returned
    for secret in (upstream_key, admin_key, client_key):
        assert secret not in text, f"a secret leaked: {secret[:12]}..."


def _post(url: str, body: Any, token: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    return http_json("POST", url, body, token, timeout=timeout)


def test_serve_with_database_down_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TOKENPORT_DATA_DIR": str(tmp_path),
        "TOKENPORT_CONFIG": "",
        "TOKENPORT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
    }
    out = subprocess.run(
        [sys.executable, "-m", "tokenport", "serve", "--no-local"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert "ledger database is unavailable" in out.stderr and "Traceback" not in out.stderr
