"""Graceful drain of a real `tokenport serve --workers 2` on SIGTERM: /readyz turns 503
first while the listener still answers; requests that end within the grace period end
normally; what is still running after it is cut cleanly (a 503 `shutting_down`, or the
stream's error event and its end), each with a ledger record that says so; the process
exits by itself."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from _grammar import parse_sse
from _helpers import free_port, http_raw, serve
from tokenport.db import Database
from tokenport.lab.fake import FakeUpstream, Script

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # starts `tokenport serve`
MODEL = "fakeoa/fake-model"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_sigterm_unready_first_then_finish_or_cut_cleanly(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    db = tmp_path / "ledger.db"
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\ndatabase_url = "sqlite:///{db}"\n'
        "[drain]\nunready_s = 1.5\ngrace_s = 2.5\n[local]\nenabled = false\n"
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(cfg, port, tmp_path / "gw.log", dict(os.environ), "--workers", "2")
    results: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def call(name: str, body: dict[str, Any]) -> None:
        payload = {"model": MODEL, "messages": [{"role": "user", "content": name}], **body}
        results[name] = http_raw("POST", base + "/v1/chat/completions", payload, timeout=30)

    # Each script answers one request, in the order they arrive.
    fake.push(
        Script(text="a b c d", chunks=4, chunk_interval_ms=400),  # ~1.2 s: within the grace
        Script(text=" ".join("x" * 40), chunks=40, chunk_interval_ms=250),  # 10 s: cut
        Script(latency_ms=20_000),  # never answers in time: cut
    )
    calls = [
        ("short", {"stream": True}),
        ("long", {"stream": True, "stream_options": {"include_usage": True}}),
        ("slow", {}),
    ]
    threads = []
    for name, body in calls:
        t = threading.Thread(target=call, args=(name, body))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while len([r for r in fake.requests if r.method == "POST"]) < len(threads):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert _status(base + "/readyz") == 200
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # Unready first, while the listener still serves (the unready delay is 1.5 s).
    deadline = time.monotonic() + 1.2
    while _status(base + "/readyz") != 503:
        assert time.monotonic() < deadline, "/readyz never turned unready"
        time.sleep(0.05)
    assert _status(base + "/healthz") == 200  # liveness is not readiness
    for t in threads:
        t.join(timeout=30)
    assert proc.wait(timeout=30) == 0
    took = time.monotonic() - t0
    assert took < 1.5 + 2.5 + 5, took

    status, _, raw = results["short"]
    events = parse_sse(raw)
    assert status == 200 and events[-1][1] == "[DONE]"
    assert not any(isinstance(d, dict) and "error" in d for _, d in events)
    status, _, raw = results["long"]
    events = parse_sse(raw)
    assert status == 200 and events[-1][1] == "[DONE]"  # a clean end, not a reset
    errors = [d["error"] for _, d in events if isinstance(d, dict) and "error" in d]
    assert errors and errors[0]["code"] == "shutting_down", events[-3:]
    assert any(isinstance(d, dict) and d.get("choices") for _, d in events)  # it had started
    status, _, raw = results["slow"]
    assert status == 503 and b"shutting_down" in raw

    store = Database(f"sqlite:///{db}", what="ledger")
    try:
        rows = store.rows("SELECT status, error_class, http_status, stream FROM requests")
    finally:
        store.close()
    outcome = sorted((r[0], r[1] or "", int(r[2]), bool(r[3])) for r in rows)
    assert outcome == [
        ("error", "ShuttingDown", 503, False),
        ("error", "ShuttingDown", 503, True),
        ("ok", "", 200, True),
    ], outcome
    log = (tmp_path / "gw.log").read_text()
    assert "SIGTERM: draining" in log and "grace over, cutting" in log
    assert "Traceback" not in log, log[-3000:]
