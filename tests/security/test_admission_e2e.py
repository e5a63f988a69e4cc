"""Keys, credit and limits through the real gateway, with the official openai SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from _helpers import http_json as _call
from tokenport.lab.fake import FakeUpstream, Script

ADMIN = "admin-secret-for-tests-0123456789"
MODEL = "fakeoa/fake-model"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]


def _gateway(factory: Any, fake: FakeUpstream, **extra: Any) -> Any:
    return factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, **extra)


def _new_key(gw: Any, **body: Any) -> tuple[str, str]:
    status, out = _call("POST", gw.base_url + "/api/v1/keys", {"name": "t", **body}, ADMIN)
    assert status == 201, out
    return out["key"], out["data"]["id"]


def test_admin_api_needs_the_admin_key(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    assert _call("POST", gw.base_url + "/api/v1/keys", {"name": "x"})[0] == 403
    assert _call("GET", gw.base_url + "/api/v1/keys", token="wrong")[0] == 403
    status, body = _call("POST", gw.base_url + "/api/v1/keys", {"name": "x", "limt": 1}, ADMIN)
    assert status == 400 and "limt" in body["error"]["message"]


def test_key_lifecycle_401s(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    secret, key_id = _new_key(gw, limit=1.0)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=secret, max_retries=0)
    resp = client.chat.completions.create(model=MODEL, messages=MSG)
    # a keyed generation is read with its key (anonymously it is a 404, even on an open gateway)
    assert _call("GET", f"{gw.base_url}/api/v1/generation?id={resp.id}")[0] == 404
    gen = _call("GET", f"{gw.base_url}/api/v1/generation?id={resp.id}", token=secret)[1]["data"]
    status, info = _call("GET", gw.base_url + "/api/v1/key", token=secret)
    assert status == 200
    assert info["data"]["limit"] == 1.0
    assert info["data"]["usage"] == pytest.approx(gen["total_cost"], abs=1e-9)
    assert info["data"]["limit_remaining"] == pytest.approx(1.0 - gen["total_cost"], abs=1e-9)

    unknown = openai.OpenAI(
        base_url=gw.base_url + "/v1", api_key="tp-not-a-real-key", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        unknown.chat.completions.create(model=MODEL, messages=MSG)

    assert _call("POST", f"{gw.base_url}/api/v1/keys/{key_id}/revoke", {}, ADMIN)[0] == 200
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        client.chat.completions.create(model=MODEL, messages=MSG)

    expired, _ = _new_key(gw, expires_in_days=1e-6)
    time.sleep(0.2)
    with pytest.raises(openai.AuthenticationError, match="expired"):
        openai.OpenAI(
            base_url=gw.base_url + "/v1", api_key=expired, max_retries=0
        ).chat.completions.create(model=MODEL, messages=MSG)


def test_require_keys_refuses_anonymous(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake, require_keys=True)
    status, body = _call(
        "POST", gw.base_url + "/v1/chat/completions", {"model": MODEL, "messages": MSG}
    )
    assert status == 401 and "Bearer" in body["error"]["message"]


def test_allowed_models(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    secret, _ = _new_key(gw, allowed_models=["deepseek/*"])
    status, body = _call(
        "POST", gw.base_url + "/v1/chat/completions", {"model": MODEL, "messages": MSG}, secret
    )
    assert status == 403 and "deepseek/*" in body["error"]["message"]


def test_rate_limit_429_with_retry_after(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    secret, _ = _new_key(gw, rpm=3)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=secret, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model=MODEL, messages=MSG)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model=MODEL, messages=MSG)
    assert int(err.value.response.headers["retry-after"]) >= 1
    assert "3 requests per minute" in str(err.value)


def test_200_concurrent_against_credit_for_50(fake: FakeUpstream, gateway_factory: Any) -> None:
    """Every request is served or refused with 402; the spend never passes the limit."""
    # Each answer uses all 100 output tokens, so the actual cost is close to the worst case
    # and the limit really binds.
    fake.set_script(Script(text="word " * 100, latency_ms=20, chunks=1))
    gw = _gateway(gateway_factory, fake)
    # One request's worst case: prompt estimate + 100 output tokens at 1.0/2.0 $ per M.
    worst = (len("hello there") // 3 + 4) * 1.0 / 1e6 + 100 * 2.0 / 1e6
    limit = round(50 * worst, 9)
    secret, key_id = _new_key(gw, limit=limit)
    body = {"model": MODEL, "messages": MSG, "max_tokens": 100}

    def one(_: int) -> int:
        return _call("POST", gw.base_url + "/v1/chat/completions", body, secret)[0]

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(one, range(200)))
    assert set(codes) <= {200, 402}, codes
    served = codes.count(200)
    # 50 fit at the worst case; actual answers cost 2.02e-4 vs 2.07e-4 reserved, so 51 can.
    assert 50 <= served <= 51, served
    info = _call("GET", gw.base_url + "/api/v1/key", token=secret)[1]["data"]
    assert info["usage"] <= limit + 1e-12
    keys = _call("GET", gw.base_url + "/api/v1/keys", token=ADMIN)[1]["data"]
    mine = next(k for k in keys if k["id"] == key_id)
    assert mine["reserved"] == 0  # every reservation was settled
