"""Anthropic Messages bodies from clients -> ChatRequest (the messages door)."""

from __future__ import annotations

import json

import pytest

from tokenport.errors import BadRequest
from tokenport.wire.anthropic_client_in import parse_messages_request


def _parse(**fields: object) -> object:
    body = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    return parse_messages_request(json.dumps({**body, **fields}).encode())


def test_system_turns_tools_and_the_beta_header_become_one_request() -> None:
    body = {
        "model": "claude",
        "max_tokens": 100,
        "system": "be brief",
        "metadata": {"user_id": "u1"},
        "tools": [{"name": "get", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}],
            },
        ],
    }
    request = parse_messages_request(json.dumps(body).encode(), beta="b-1")
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.messages[0].content == "be brief"
    call = (request.messages[2].tool_calls or [])[0]
    assert call["id"] == "t1" and call["function"]["name"] == "get"
    assert request.messages[3].tool_call_id == "t1"
    assert request.tools and request.tools[0]["function"]["name"] == "get"
    assert request.user == "u1" and request.anthropic_beta == "b-1"
    assert request.door == "messages" and request.max_tokens == 100


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"model": " "}, "model"),
        ({"temperature": 1.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(fields: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as out:
        _parse(**fields)
    assert out.value.param == param


def test_a_chat_completions_body_is_sent_to_its_own_door() -> None:
    with pytest.raises(BadRequest, match="/v1/chat/completions"):
        _parse(messages=[{"role": "tool", "content": "x", "tool_call_id": "c"}])
