"""ChatRequest -> upstream Anthropic Messages body, checked by round trips on generated
requests: Anthropic -> internal -> Anthropic keeps the body up to Anthropic's own
equivalences, and Anthropic -> internal -> OpenAI -> internal -> Anthropic keeps all that
both shapes can carry."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given

from _wire_bodies import (
    SETTINGS,
    SPEC,
    anthropic_body,
    anthropic_normal,
    blocks_of,
    to_anthropic,
)
from tokenport.wire import anthropic_client_in, anthropic_upstream_out, openai_chat


@pytest.mark.slow
@SETTINGS
@given(anthropic_body(native=True))
def test_anthropic_native_round_trip(body: dict[str, Any]) -> None:
    again = blocks_of(to_anthropic(body))
    assert again == blocks_of(anthropic_normal(body, cross=False))


@pytest.mark.slow
@SETTINGS
@given(anthropic_body(native=False))
def test_anthropic_through_openai_and_back(body: dict[str, Any]) -> None:
    request = anthropic_client_in.parse_messages_request(json.dumps(body).encode())
    openai_body = openai_chat.chat_upstream_body(SPEC, request, "m", False)
    back = openai_chat.parse_chat_request(openai_body)
    again = orjson.loads(anthropic_upstream_out.messages_upstream_body("up", back, "m", False, []))
    assert blocks_of(again) == blocks_of(anthropic_normal(body, cross=True))
