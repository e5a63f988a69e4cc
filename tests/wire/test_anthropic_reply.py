"""Anthropic Messages answers, both ways: an upstream body -> ChatResponse, and a
ChatResponse -> a client's body."""

from __future__ import annotations

import orjson
import pytest

from tokenport.errors import UpstreamProtocolError
from tokenport.values import ChatResponse, Choice, Message, Usage
from tokenport.wire.anthropic_reply import (
    decode_messages_response,
    encode_messages_response,
    finish_reason,
    stop_reason,
)

UPSTREAM = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "t1", "name": "get", "input": {"q": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def test_an_upstream_answer_reads_in() -> None:
    resp = decode_messages_response("anthropic", orjson.dumps(UPSTREAM))
    choice = resp.choices[0]
    assert resp.id == "msg_1" and choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me look."
    assert choice.message.reasoning_content == "hmm"
    assert choice.message.thinking and choice.message.thinking[0].signature == "sig"
    call = (choice.message.tool_calls or [])[0]
    assert call["id"] == "t1" and orjson.loads(call["function"]["arguments"]) == {"q": 1}
    assert resp.usage is not None and resp.usage.completion_tokens == 5


def test_an_unreadable_answer_is_the_upstreams_fault() -> None:
    with pytest.raises(UpstreamProtocolError):
        decode_messages_response("anthropic", b"{not json")


def test_stop_reasons_map_both_ways() -> None:
    assert finish_reason("max_tokens") == "length" and stop_reason("length") == "max_tokens"
    assert finish_reason("end_turn") == "stop" and stop_reason(None) == "end_turn"
    assert finish_reason(None) is None


def test_a_response_renders_as_a_client_body() -> None:
    resp = ChatResponse(
        id="gen-1",
        model="alias",
        created=1,
        choices=[Choice(0, Message(role="assistant", content="hello"), "length")],
    )
    body = orjson.loads(encode_messages_response(resp, Usage(4, 2), 0.1, {"provider": "p"}))
    assert body["type"] == "message" and body["id"] == "gen-1"
    assert body["content"] == [{"type": "text", "text": "hello"}]
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["input_tokens"] == 4 and body["usage"]["output_tokens"] == 2
    assert body["provider"] == "p"
