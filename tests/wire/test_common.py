"""What every door's parser shares: body decoding, range checks, the wrong-door hint."""

from __future__ import annotations

import json

import pytest

from tokenport.errors import BadRequest
from tokenport.wire.common import (
    MAX_DEPTH,
    check_range,
    decode_object,
    wrong_door,
    wrong_door_error,
)


def test_a_body_must_be_a_json_object() -> None:
    assert decode_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_object(b"{nope")
    with pytest.raises(BadRequest, match="must be a JSON object"):
        decode_object(b"[1, 2]")


def test_a_body_nested_too_deep_is_refused() -> None:
    deep = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    with pytest.raises(BadRequest, match="nests deeper"):
        decode_object(json.dumps({"x": json.loads(deep)}).encode())


def test_range_checks_name_the_field_and_refuse_nan() -> None:
    check_range("temperature", 1.0, 0, 2)
    check_range("temperature", None, 0, 2)
    with pytest.raises(BadRequest, match="between 0 and 2") as out:
        check_range("temperature", 3, 0, 2)
    assert out.value.param == "temperature"
    with pytest.raises(BadRequest, match="NaN"):
        check_range("top_p", float("nan"), 0, 1)


def test_a_body_for_another_door_is_recognised() -> None:
    anthropic = {
        "model": "m",
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert wrong_door(anthropic, "chat") == "messages"
    assert wrong_door(anthropic, "messages") is None
    assert wrong_door({"model": "m", "input": "hi"}, "chat") == "responses"
    assert wrong_door({"model": "m", "prompt": "hi"}, "responses") == "completions"
    openai = {"model": "m", "messages": [{"role": "tool", "content": "x", "tool_call_id": "c"}]}
    assert wrong_door(openai, "messages") == "chat"
    error = wrong_door_error(anthropic, "chat", "Chat Completions")
    assert error is not None
    assert "/v1/messages" in error.message and "/v1/chat/completions" in error.message
