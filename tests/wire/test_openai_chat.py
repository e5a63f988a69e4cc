"""Chat Completions bodies from clients -> ChatRequest, and OpenAI -> internal -> Anthropic ->
internal -> OpenAI on generated requests, which keeps all that both shapes can carry."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given

from _wire_bodies import SETTINGS, SPEC, canon_arguments, openai_body, openai_normal
from tokenport.errors import BadRequest
from tokenport.wire import anthropic_client_in, anthropic_upstream_out, openai_chat
from tokenport.wire.openai_chat import parse_chat_request


def _req(**fields: object) -> bytes:
    return json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    ).encode()


def test_known_fields_typed_and_unknown_kept() -> None:
    r = parse_chat_request(
        _req(max_tokens=5, top_k=3, provider={"sort": "price"}, models=["a", "b"], stream=True)
    )
    assert r.max_tokens == 5 and r.stream is True and r.models == ["a", "b"]
    assert r.provider is not None and r.provider.sort == "price"
    assert r.extra == {"top_k": 3}


def test_ssrf_fields_dropped() -> None:
    r = parse_chat_request(
        _req(
            api_base="http://169.254.169.254",
            api_key="sk-x",
            base_url="http://x",
            extra_headers={"a": "b"},
        )
    )
    assert r.extra == {}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": "x"}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"provider": {"sort": "vibes"}}, "provider"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"n": 0}, "n"),
    ],
)
def test_bad_values_name_the_param(fields: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_chat_request(_req(**fields))
    assert err.value.param == param


def test_bad_role_and_shapes() -> None:
    with pytest.raises(BadRequest, match="role"):
        parse_chat_request(b'{"model":"m","messages":[{"role":"wizard","content":"x"}]}')
    with pytest.raises(BadRequest, match="model"):
        parse_chat_request(b'{"messages":[{"role":"user","content":"x"}]}')
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_chat_request(b"\xff")


@pytest.mark.slow
@SETTINGS
@given(openai_body())
def test_openai_through_anthropic_and_back(body: dict[str, Any]) -> None:
    request = openai_chat.parse_chat_request(json.dumps(body).encode())
    anthropic_body_ = anthropic_upstream_out.messages_upstream_body("up", request, "m", False, [])
    back = anthropic_client_in.parse_messages_request(anthropic_body_)
    again = orjson.loads(openai_chat.chat_upstream_body(SPEC, back, "m", False))
    assert canon_arguments(again) == openai_normal(body)


def test_openrouter_plugins_are_parsed_never_forwarded() -> None:
    from tokenport.values import ProviderSpec
    from tokenport.wire.openai_chat import chat_upstream_body

    r = parse_chat_request(_req(plugins=[{"id": "file-parser", "pdf": {"engine": "x"}}]))
    assert r.plugins == ["file-parser"] and "plugins" not in r.extra
    sent = json.loads(chat_upstream_body(ProviderSpec("p", "http://p"), r, "m", stream=False))
    assert "plugins" not in sent
    assert parse_chat_request(_req()).plugins is None


@pytest.mark.parametrize("plugins", [{"id": "x"}, ["file-parser"], [{"name": "x"}], [{"id": 3}]])
def test_malformed_plugins_are_a_400(plugins: object) -> None:
    with pytest.raises(BadRequest, match="plugins must be a list"):
        parse_chat_request(_req(plugins=plugins))
