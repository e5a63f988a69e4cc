"""What a request may cost before it is sent: the rules in security/worst_case.py."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from _billing_upstream import big_tools, image_message
from tokenport.security.worst_case import (
    IMAGE_TOKENS,
    MAX_NANO,
    MAX_TOKENS,
    output_bound,
    prompt_tokens,
    worst_case,
)
from tokenport.values import ChatRequest, Pricing, Route

CHEAP = Route("a", "m", "a/m", Pricing(1.0, 2.0), context_length=8192, max_output=1000)
DEAR = Route("b", "m", "b/m", Pricing(3.0, 15.0), context_length=4096)
UNBOUNDED = Route("c", "m", "c/m", Pricing(1.0, 1.0))


def _req(**body: Any) -> ChatRequest:
    body.setdefault("messages", [{"role": "user", "content": "hello there"}])
    return msgspec.convert({"model": "m", **body}, ChatRequest)


def test_plain_text_counts_bytes_over_three_plus_the_template() -> None:
    assert prompt_tokens(_req()) == 11 // 3 + 4
    # CJK: 3 bytes a character, so about a token a character, as its tokenizers count.
    assert prompt_tokens(_req(messages=[{"role": "user", "content": "你好世界"}])) == 4 + 4


def test_tools_schemas_and_unknown_fields_are_prompt() -> None:
    plain = prompt_tokens(_req())
    with_tools = prompt_tokens(_req(tools=big_tools(30_000)))
    assert with_tools - plain >= 150_000 // 3  # 30,000 x "word " is 150 kB of schema
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"a": "b" * 300}}}
    assert prompt_tokens(_req(response_format=schema)) >= plain + 100
    legacy = {"functions": [{"name": "f", "description": "d" * 300}]}  # passed through as extra
    assert prompt_tokens(_req(extra=legacy)) >= plain + 100


def test_an_image_costs_its_fixed_tokens_not_its_bytes() -> None:
    small = prompt_tokens(_req(messages=[image_message(100)]))
    huge = prompt_tokens(_req(messages=[image_message(3_000_000)]))
    assert small == huge  # the base64 is not counted as text
    assert small >= IMAGE_TOKENS
    two = {"role": "user", "content": image_message(10)["content"] * 2}
    assert prompt_tokens(_req(messages=[two])) >= 2 * IMAGE_TOKENS


def test_output_is_the_cap_clamped_to_the_routes_maximum() -> None:
    assert output_bound(_req(max_tokens=50), CHEAP) == 50
    assert output_bound(_req(max_tokens=50_000), CHEAP) == 1000  # max_output
    assert output_bound(_req(max_completion_tokens=9_000), DEAR) == 4096  # context
    assert output_bound(_req(), CHEAP) == 1000  # no cap: the maximum
    assert output_bound(_req(), UNBOUNDED) is None  # nothing bounds it
    assert output_bound(_req(max_tokens=2**70), UNBOUNDED) == MAX_TOKENS


def test_n_multiplies_and_the_dearest_route_prices() -> None:
    one = worst_case(_req(max_tokens=100), [CHEAP, DEAR])
    assert (one.prompt_tokens, one.output_tokens, one.choices) == (7, 100, 1)
    assert one.usd == pytest.approx((7 * 3.0 + 100 * 15.0) / 1e6)  # DEAR's price
    many = worst_case(_req(max_tokens=100, n=128), [CHEAP, DEAR])
    assert many.nano == pytest.approx(128 * one.nano, abs=128)
    assert many.tokens == 128 * 107


def test_absurd_requests_stay_inside_the_databases_numbers() -> None:
    wc = worst_case(_req(max_tokens=2**63, n=10**9), [UNBOUNDED])
    assert wc.nano == MAX_NANO and wc.tokens == MAX_TOKENS
    negative = worst_case(_req(max_tokens=-5, n=-3), [CHEAP])
    assert negative.choices == 1 and negative.output_tokens == 0 and negative.nano > 0
    with pytest.raises(ValueError, match="cap the request"):
        worst_case(_req(), [UNBOUNDED])
