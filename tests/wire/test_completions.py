"""Legacy Completions as a one-turn chat: what is kept, what is refused, how it renders."""

from __future__ import annotations

import json

import orjson
import pytest

from tokenport.errors import BadRequest
from tokenport.values import ChatResponse, Choice, Chunk, Delta, Message, Usage
from tokenport.wire.completions import (
    encode_completions_chunk,
    encode_completions_response,
    encode_completions_usage_chunk,
    parse_completions_request,
)


def _parse(**fields: object) -> object:
    return parse_completions_request(json.dumps({"model": "m", **fields}).encode())


def test_the_prompt_is_the_user_turn() -> None:
    request, call = parse_completions_request(
        b'{"model": "m", "prompt": "Say hi", "max_tokens": 5, "echo": true}'
    )
    assert [(m.role, m.content) for m in request.messages] == [("user", "Say hi")]
    assert request.max_tokens == 5
    assert call.prompt == "Say hi" and call.echo


@pytest.mark.parametrize(
    "fields",
    [{"prompt": "a", "suffix": "b"}, {"prompt": ["a", "b"]}, {"prompt": [1, 2, 3]}],
)
def test_what_a_chat_upstream_cannot_do_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        _parse(**fields)


def test_the_answer_renders_as_text_with_the_prompt_echoed() -> None:
    _, call = parse_completions_request(b'{"model": "m", "prompt": "Q: ", "echo": true}')
    resp = ChatResponse(
        id="gen-1",
        model="m",
        created=1,
        choices=[Choice(0, Message(role="assistant", content="A"), "stop")],
    )
    body = orjson.loads(encode_completions_response(resp, call, Usage(2, 1), 0.5))
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Q: A"
    assert body["usage"]["total_tokens"] == 3


def test_stream_chunks_carry_text_then_usage() -> None:
    chunk = orjson.loads(
        encode_completions_chunk("gen-1", "m", 1, Chunk(delta=Delta(content="x")), "x")
    )
    assert chunk["choices"][0]["text"] == "x"
    usage = orjson.loads(encode_completions_usage_chunk("gen-1", "m", 1, Usage(2, 1), None))
    assert usage["choices"] == [] and usage["usage"]["prompt_tokens"] == 2
