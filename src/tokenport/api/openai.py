"""The OpenAI wire format at the edge: bytes in -> `ChatRequest`, with clear 400s."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tokenport.errors import BadRequest
from tokenport.types import ChatRequest

_KNOWN = frozenset(ChatRequest.__struct_fields__) - {"extra"}
# A client must never steer the gateway's own outbound connections (SSRF) or credentials.
_FORBIDDEN_PASSTHROUGH = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "custom_llm_provider",
        "extra_headers",
        "headers",
        "organization",
        "azure_ad_token",
    }
)
_AT = re.compile(r"`\$\.(\w+)")
_decoder = msgspec.json.Decoder()


def parse_chat_request(body: bytes) -> ChatRequest:
    try:
        raw = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadRequest("The request body must be a JSON object.")
    extra = {k: raw.pop(k) for k in list(raw) if k not in _KNOWN}
    for k in _FORBIDDEN_PASSTHROUGH:
        extra.pop(k, None)
    try:
        request = msgspec.convert(raw, ChatRequest)
    except msgspec.ValidationError as exc:
        m = _AT.search(str(exc))
        raise BadRequest(f"Invalid request: {exc}", param=m.group(1) if m else None) from exc
    request.extra = extra
    _check(request)
    return request


def _check(r: ChatRequest) -> None:
    if not r.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    if not r.messages:
        raise BadRequest("`messages` must contain at least one message.", param="messages")
    _range("max_tokens", r.max_tokens, 1, None)
    _range("max_completion_tokens", r.max_completion_tokens, 1, None)
    _range("temperature", r.temperature, 0.0, 2.0)
    _range("top_p", r.top_p, 0.0, 1.0)
    _range("n", r.n, 1, 128)
    _range("presence_penalty", r.presence_penalty, -2.0, 2.0)
    _range("frequency_penalty", r.frequency_penalty, -2.0, 2.0)
    if isinstance(r.stop, list) and len(r.stop) > 4:
        raise BadRequest("`stop` takes at most 4 sequences.", param="stop")


def _range(name: str, value: Any, lo: float | None, hi: float | None) -> None:
    if value is None:
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise BadRequest(f"`{name}` must be {bounds}; got {value}.", param=name)
