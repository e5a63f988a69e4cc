"""Two gateway processes sharing PostgreSQL and Redis: limits and credit hold across both."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from _helpers import free_port as _port
from _helpers import http_json as _call
from _helpers import serve
from tokenport.lab.fake import FakeUpstream, Script

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
ADMIN = "admin-secret-replicas-0123456789"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def replicas(
    tmp_path: Path, pg_url: str, redis_url: str, fake: FakeUpstream
) -> Iterator[list[str]]:
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'database_url = "{pg_url}"\nredis_url = "{redis_url}"\n'
        f'data_dir = "{tmp_path}"\n[local]\nenabled = false\n'
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN}
    procs, urls = [], []
    for i in range(2):
        port = _port()
        procs.append(serve(cfg, port, tmp_path / f"gw{i}.log", env))
        urls.append(f"http://127.0.0.1:{port}")
    yield urls
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(timeout=30)


def test_rate_limit_holds_across_replicas(replicas: list[str]) -> None:
    a, b = replicas
    status, out = _call("POST", a + "/api/v1/keys", {"name": "r", "rpm": 10}, ADMIN)
    assert status == 201
    secret = out["key"]
    body = {"model": "fakeoa/fake-model", "messages": MSG}
    codes = [
        _call("POST", (a, b)[i % 2] + "/v1/chat/completions", body, secret)[0] for i in range(20)
    ]
    # In-process limits would let each replica pass 10 (20 in all); Redis holds it to 10.
    assert codes.count(200) == 10 and codes.count(429) == 10, codes


def test_credit_holds_across_replicas(replicas: list[str], fake: FakeUpstream) -> None:
    fake.set_script(Script(text="word " * 100, latency_ms=20, chunks=1))
    a, b = replicas
    worst = (len("hello there") // 3 + 4) * 1.0 / 1e6 + 100 * 2.0 / 1e6
    limit = round(20 * worst, 9)
    status, out = _call("POST", b + "/api/v1/keys", {"name": "c", "limit": limit}, ADMIN)
    assert status == 201
    secret = out["key"]
    body = {"model": "fakeoa/fake-model", "messages": MSG, "max_tokens": 100}

    def one(i: int) -> int:
        return _call("POST", (a, b)[i % 2] + "/v1/chat/completions", body, secret)[0]

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(one, range(80)))
    assert set(codes) <= {200, 402}, codes
    assert 20 <= codes.count(200) <= 21, codes
    info = _call("GET", a + "/api/v1/key", token=secret)[1]["data"]
    assert info["usage"] <= limit + 1e-12
