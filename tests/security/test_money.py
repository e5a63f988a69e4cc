"""A key never spends past its credit: reservations cover the true worst case (issue 13, Money).

Through the real gateway, against an upstream that bills like a real one (`n` choices, tools
and response schemas in the prompt, images by the picture): `_billing_upstream.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from _billing_upstream import BillingUpstream, big_tools, heavy_body, image_message
from _helpers import http_json

IMAGE_TOKENS = 4_096  # what tokenport reserves for one image: security/worst_case.py

pytestmark = pytest.mark.timeout(120)
ADMIN = "admin-secret-money-0123456789"
MODEL = "fakeoa/fake-model"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]
# One small request's worst case: 11 bytes / 3 + 4 prompt tokens and 10 output, at $1/$2 per M.
SMALL = (7 * 1.0 + 10 * 2.0) / 1e6
MAX_OUTPUT = 1_000


@pytest.fixture
def biller() -> Iterator[BillingUpstream]:
    b = BillingUpstream(max_output=MAX_OUTPUT).start()
    yield b
    b.stop()


def _models(max_output: int | None = MAX_OUTPUT) -> dict[str, Any]:
    model: dict[str, Any] = {
        "id": "fake-model",
        "author": "tokenport",
        "country": "US",
        "context_length": 8192,
        "input_price": 1.0,
        "output_price": 2.0,
    }
    if max_output is not None:
        model["max_output"] = max_output
    return {"models": [model]}


def _gateway(factory: Any, biller: BillingUpstream, **extra: Any) -> Any:
    return factory(
        {"fakeoa": biller},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        fakeoa_extra=_models(),
        **extra,
    )


def _key(gw: Any, **body: Any) -> tuple[str, str]:
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "m", **body}, ADMIN)
    assert status == 201, out
    return out["key"], out["data"]["id"]


def _chat(gw: Any, secret: str, **body: Any) -> tuple[int, Any]:
    payload = {"model": MODEL, "messages": MSG, **body}
    return http_json("POST", gw.base_url + "/v1/chat/completions", payload, secret, timeout=60)


def _key_info(gw: Any, key_id: str) -> dict[str, Any]:
    keys = http_json("GET", gw.base_url + "/api/v1/keys", token=ADMIN)[1]["data"]
    found: dict[str, Any] = next(k for k in keys if k["id"] == key_id)
    return found


def test_n_choices_are_reserved_n_times(biller: BillingUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, biller)
    secret, key_id = _key(gw, limit=round(2 * SMALL, 9))
    status, body = _chat(gw, secret, max_tokens=10, n=128)
    assert status == 402, body
    assert "x128 choices" in body["error"]["message"]
    assert _chat(gw, secret, max_tokens=10)[0] == 200  # the same request with n=1 fits
    assert _key_info(gw, key_id)["usage"] <= 2 * SMALL


def test_a_huge_tools_schema_is_part_of_the_prompt(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    secret, key_id = _key(gw, limit=round(2 * SMALL, 9))
    status, body = _chat(gw, secret, max_tokens=10, tools=big_tools(200_000))
    assert status == 402, body
    assert not biller.bodies  # refused before any upstream call
    assert _key_info(gw, key_id)["usage"] == 0


def test_an_image_is_reserved_at_its_token_cost_not_its_bytes(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    text_and_image = (IMAGE_TOKENS + 100) * 1.0 / 1e6 + 10 * 2.0 / 1e6
    secret, key_id = _key(gw, limit=round(0.9 * text_and_image, 9))
    status, _ = _chat(gw, secret, max_tokens=10, messages=[image_message(2_200_000)])
    assert status == 402  # a 3 MB image part: the text alone would have fitted
    # Room for the image's fixed cost: served, although its base64 is 3 MB of "text".
    http_json("POST", f"{gw.base_url}/api/v1/keys/{key_id}/top-up", {"amount": 0.01}, ADMIN)
    status, body = _chat(gw, secret, max_tokens=10, messages=[image_message(2_200_000)])
    assert status == 200, body


def test_no_max_tokens_reserves_the_models_maximum_output(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    full = (7 * 1.0 + MAX_OUTPUT * 2.0) / 1e6
    secret, key_id = _key(gw, limit=round(full - 1e-6, 9))
    assert _chat(gw, secret)[0] == 402  # 999 output tokens' worth is not enough
    http_json("POST", f"{gw.base_url}/api/v1/keys/{key_id}/top-up", {"amount": 1e-6}, ADMIN)
    status, body = _chat(gw, secret)
    assert status == 200, body
    # The request went out as the client sent it: no cap was invented for it.
    assert "max_tokens" not in biller.bodies[-1]
    info = _key_info(gw, key_id)
    assert info["reserved"] == 0 and info["usage"] <= info["limit"]


def test_a_cost_over_the_reservation_is_a_debt_that_blocks_the_key(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    secret, key_id = _key(gw, limit=round(1.5 * SMALL, 9))
    biller.overbill = 3.0  # the upstream bills three times what anyone could predict
    status, body = _chat(gw, secret, max_tokens=10)
    assert status == 200, body
    info = _key_info(gw, key_id)
    assert info["usage"] == pytest.approx(body["usage"]["cost"], abs=1e-9)  # charged in full
    assert info["usage"] > info["limit"] and info["reserved"] == 0
    biller.overbill = 1.0
    status, body = _chat(gw, secret, max_tokens=1)
    assert status == 402 and "Top the key up" in body["error"]["message"]
    assert "spent" in body["error"]["message"]
    http_json("POST", f"{gw.base_url}/api/v1/keys/{key_id}/top-up", {"amount": 0.001}, ADMIN)
    assert _chat(gw, secret, max_tokens=10)[0] == 200


def heavy_cost(gw: Any) -> float:
    """What the upstream bills for `heavy_body()`, from one request on an unlimited key."""
    secret, _ = _key(gw)
    status, body = _chat(gw, secret, **heavy_body())
    assert status == 200, body
    return float(body["usage"]["cost"])


def test_200_heavy_requests_against_credit_for_50_never_pass_the_limit(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    limit = round(50 * heavy_cost(gw), 9)
    secret, key_id = _key(gw, limit=limit)

    def one(_: int) -> int:
        return _chat(gw, secret, **heavy_body())[0]

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(one, range(200)))
    assert set(codes) <= {200, 402}, codes
    info = _key_info(gw, key_id)
    assert info["usage"] <= limit + 1e-12
    assert info["reserved"] == 0
    assert 0 < codes.count(200) <= 50
    assert info["usage"] > 0.3 * limit  # the limit, not the test, is what stopped them


def test_tokens_per_minute_do_not_overshoot_under_concurrency(
    biller: BillingUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, biller)
    secret, _ = _key(gw, tpm=100)

    def one(_: int) -> tuple[int, Any]:
        return _chat(gw, secret, max_tokens=5)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(100)))
    codes = [status for status, _ in results]
    assert set(codes) <= {200, 429}, codes
    used = sum(body["usage"]["total_tokens"] for status, body in results if status == 200)
    # Each reserves 12 tokens (7 prompt + 5 output) and uses 11: whatever the timing, the
    # minute's window never holds more than 100, so at most 9 are served.
    assert used <= 100
    assert 0 < codes.count(200) <= 100 // 11
    status, body = _chat(gw, secret, max_tokens=200)
    assert status == 400 and "tokens per minute" in body["error"]["message"]
