"""OpenAI's embeddings format, all directions: the door's body, the upstream's, the answer."""

from __future__ import annotations

import json

import orjson
import pytest

from tokenport.errors import BadRequest
from tokenport.values import Embedding, EmbeddingResponse, Usage
from tokenport.wire.embeddings import (
    decode_embeddings_response,
    embeddings_upstream_body,
    encode_embeddings_response,
    input_text,
    parse_embeddings_request,
)


def _parse(**fields: object) -> object:
    return parse_embeddings_request(json.dumps({"model": "e", **fields}).encode())


def test_the_door_keeps_only_openai_fields_and_checks_input() -> None:
    request = parse_embeddings_request(
        json.dumps({"model": "e", "input": ["a", "b"], "base_url": "http://evil"}).encode()
    )
    assert request.input == ["a", "b"] and input_text(request) == "a b"
    for bad in ("", [], ["a", 1], [[1], "b"]):
        with pytest.raises(BadRequest) as out:
            _parse(input=bad)
        assert out.value.param == "input"
    with pytest.raises(BadRequest, match="dimensions"):
        _parse(input="a", dimensions=0)
    _parse(input=[[1, 2], [3]])  # token-id lists are one kind


def test_the_upstream_gets_its_own_model_name() -> None:
    request = parse_embeddings_request(b'{"model": "alias", "input": "hi", "dimensions": 8}')
    body = orjson.loads(embeddings_upstream_body(request, "text-embedding-3-small"))
    assert body["model"] == "text-embedding-3-small"
    assert body["input"] == "hi" and body["dimensions"] == 8


def test_an_answer_reads_in_and_renders_out_with_usage_and_cost() -> None:
    raw = orjson.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}],
            "model": "up",
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
    )
    resp = decode_embeddings_response(raw)
    assert resp.data == [Embedding(index=0, embedding=[0.5, -1.0])]
    assert resp.usage == Usage(prompt_tokens=3)
    out = orjson.loads(
        encode_embeddings_response(
            EmbeddingResponse(resp.data, "up"), "gen-1", "alias", Usage(prompt_tokens=3), 0.25
        )
    )
    assert out["id"] == "gen-1" and out["model"] == "alias"
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3, "cost": 0.25}
