"""Two gateway processes sharing PostgreSQL and Redis: heavy requests (n, tools, images)
against a credit for 50 never pass the limit, and tokens per minute hold across both."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from _billing_upstream import BillingUpstream, heavy_body
from _helpers import free_port, http_json, serve
from tokenport.security.keystore import KeyStore

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]
ADMIN = "admin-secret-money-replicas-0123456789"
MODEL = "fakeoa/fake-model"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[list[str]]:
    biller = BillingUpstream(max_output=1_000).start()
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'database_url = "{pg_url}"\nredis_url = "{redis_url}"\n'
        f'data_dir = "{tmp_path}"\n[local]\nenabled = false\n'
        f'[providers.fakeoa]\nbase_url = "{biller.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0, '
        "context_length = 8192, max_output = 1000 }]\n"
    )
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN}
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            procs.append(serve(cfg, port, tmp_path / f"gw{i}.log", env))
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(timeout=30)
        biller.stop()


def _key(base: str, **body: Any) -> tuple[str, str]:
    status, out = http_json("POST", base + "/api/v1/keys", {"name": "r", **body}, ADMIN)
    assert status == 201, out
    return out["key"], out["data"]["id"]


def _chat(base: str, secret: str, **body: Any) -> tuple[int, Any]:
    payload = {"model": MODEL, "messages": MSG, **body}
    return http_json("POST", base + "/v1/chat/completions", payload, secret, timeout=60)


def test_heavy_requests_on_two_replicas_never_pass_the_limit(
    replicas: list[str], pg_url: str
) -> None:
    a, b = replicas
    unlimited, _ = _key(a)
    status, body = _chat(a, unlimited, **heavy_body())
    assert status == 200, body
    limit = round(50 * float(body["usage"]["cost"]), 9)  # a credit for 50 of these
    secret, key_id = _key(b, limit=limit)

    def one(i: int) -> int:
        return _chat((a, b)[i % 2], secret, **heavy_body())[0]

    with ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(one, range(200)))
    assert set(codes) <= {200, 402}, codes
    store = KeyStore(pg_url)
    try:
        key = store.get(key_id)
    finally:
        store.close()
    assert key.credit_limit_nano is not None
    assert key.usage_nano <= key.credit_limit_nano
    assert key.reserved_nano == 0
    assert 0 < codes.count(200) <= 50
    assert key.usage_nano > 0.3 * key.credit_limit_nano


def test_tokens_per_minute_hold_across_replicas(replicas: list[str]) -> None:
    a, b = replicas
    secret, _ = _key(a, tpm=100)

    def one(i: int) -> tuple[int, Any]:
        return _chat((a, b)[i % 2], secret, max_tokens=5)

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(one, range(100)))
    assert {s for s, _ in results} <= {200, 429}
    used = sum(body["usage"]["total_tokens"] for s, body in results if s == 200)
    assert 0 < used <= 100  # 12 reserved, 11 used each: one Redis window for both replicas
