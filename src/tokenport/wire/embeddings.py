"""OpenAI's embeddings wire format, all directions: the door's and the adapter's."""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.errors import BadRequest
from tokenport.values import Embedding, EmbeddingRequest, EmbeddingResponse, Usage
from tokenport.wire.common import check_range, convert, decode_object, wrong_door_error

_encoder = msgspec.json.Encoder()
_MAX_INPUTS = 2048  # OpenAI's own limit on inputs per request

# Only OpenAI's own fields are read, so nothing a client adds (a base URL, headers) is
# ever forwarded.
_FIELDS = frozenset(EmbeddingRequest.__struct_fields__)


def parse_embeddings_request(body: bytes) -> EmbeddingRequest:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "embeddings", "Embeddings")
    if wrong is not None:
        raise wrong
    request = convert({k: v for k, v in raw.items() if k in _FIELDS}, EmbeddingRequest, "request")
    if not request.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    inputs = request.input
    if inputs == "" or inputs == []:
        raise BadRequest("`input` must not be empty.", param="input")
    if isinstance(inputs, list):
        if len(inputs) > _MAX_INPUTS:
            raise BadRequest(f"`input` takes at most {_MAX_INPUTS} items.", param="input")
        if not _uniform(inputs):
            raise BadRequest(
                "`input` must be a string, a list of strings, a list of token ids, or a list "
                "of token-id lists.",
                param="input",
            )
    check_range("dimensions", request.dimensions, 1, 65536)
    return request


def _is_id(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _uniform(items: list[Any]) -> bool:
    return (
        all(isinstance(i, str) for i in items)
        or all(_is_id(i) for i in items)
        or all(isinstance(i, list) and i and all(_is_id(x) for x in i) for i in items)
    )


def input_text(request: EmbeddingRequest) -> str:
    """The text to embed, for token estimates. Inputs given as token ids stand in as one
    short word per id, which any tokenizer counts as about one token each."""
    inputs = request.input
    if isinstance(inputs, str):
        return inputs
    words = [i if isinstance(i, str) else " ".join("x" * len(_ids(i))) for i in inputs]
    return " ".join(words)


def _ids(item: Any) -> list[Any]:
    return item if isinstance(item, list) else [item]


def embeddings_upstream_body(request: EmbeddingRequest, model: str) -> bytes:
    body: dict[str, Any] = {"model": model, "input": request.input}
    for name in ("encoding_format", "dimensions", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return _encoder.encode(body)


class _WireUsage(msgspec.Struct):
    prompt_tokens: int = 0
    total_tokens: int = 0


class _Wire(msgspec.Struct):
    data: list[Embedding]
    model: str = ""
    usage: _WireUsage | None = None


_decoder = msgspec.json.Decoder(_Wire)


def decode_embeddings_response(raw: bytes) -> EmbeddingResponse:
    wire = _decoder.decode(raw)
    usage = (
        Usage(prompt_tokens=wire.usage.prompt_tokens or wire.usage.total_tokens)
        if wire.usage is not None
        else None
    )
    return EmbeddingResponse(wire.data, wire.model, usage)


def encode_embeddings_response(
    resp: EmbeddingResponse, gen_id: str, model: str, usage: Usage, cost: float
) -> bytes:
    wire_usage: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.prompt_tokens,
        "cost": cost,
    }
    if usage.estimated:
        wire_usage["estimated"] = True
    return _encoder.encode(
        {"object": "list", "id": gen_id, "data": resp.data, "model": model, "usage": wire_usage}
    )
