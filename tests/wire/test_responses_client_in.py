"""OpenAI Responses requests -> ChatRequest: instructions and input items become turns."""

from __future__ import annotations

import json

import pytest

from tokenport.errors import BadRequest
from tokenport.wire.responses_client_in import parse_responses_request


def test_instructions_and_items_become_chat_turns() -> None:
    body = {
        "model": "m",
        "instructions": "be brief",
        "max_output_tokens": 50,
        "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
    }
    request, call = parse_responses_request(json.dumps(body).encode())
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert call.leading == 1
    assert request.messages[1].content in ("weather?", [{"type": "text", "text": "weather?"}])
    assert (request.messages[2].tool_calls or [])[0]["function"]["name"] == "get"
    assert request.messages[3].tool_call_id == "c1" and request.messages[3].content == "sunny"
    assert request.max_tokens == 50 and request.door == "responses"
    assert request.tools and request.tools[0]["function"]["name"] == "get"


def test_a_string_input_is_one_user_turn() -> None:
    request, call = parse_responses_request(b'{"model": "m", "input": "hi"}')
    assert [(m.role, m.content) for m in request.messages] == [("user", "hi")]
    assert call.leading == 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "input"),
        ({"input": "hi", "background": True}, "background"),
        ({"input": "hi", "conversation": "conv_1"}, "conversation"),
        ({"input": "hi", "temperature": 3}, "temperature"),
    ],
)
def test_what_the_gateway_cannot_do_is_a_400(fields: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as out:
        parse_responses_request(json.dumps({"model": "m", **fields}).encode())
    assert out.value.param == param
