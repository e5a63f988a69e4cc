"""The fake upstream's wire bodies: what an OpenAI or Anthropic server would send.

Pure functions of a `Script` and the request's `Turn`, so `fake.py` can cache the
encoded bytes and answer thousands of requests a second. The protocol's own bodies live in
`fake_openai.py`, `fake_anthropic.py` and `fake_gemini.py`; this module adds embeddings
and error bodies and dispatches by protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tokenport.lab.fake_anthropic import anthropic_body, anthropic_stream, anthropic_stream_error
from tokenport.lab.fake_gemini import gemini_body, gemini_error, gemini_stream, gemini_stream_error
from tokenport.lab.fake_openai import openai_body, openai_stream, openai_stream_error
from tokenport.lab.fake_script import (
    CREATED,
    Frames,
    Protocol,
    Script,
    Turn,
    continuation_of,
    count_words,
    role_violation,
    thinking_violation,
    turn_of,
)

__all__ = [
    "BODIES",
    "CREATED",
    "STREAMS",
    "STREAM_ERRORS",
    "Frames",
    "Protocol",
    "Script",
    "Turn",
    "continuation_of",
    "embeddings_body",
    "error_body",
    "role_violation",
    "thinking_violation",
    "turn_of",
]

# Embeddings (OpenAI protocol)


def embeddings_body(body: dict[str, Any]) -> bytes:
    """Deterministic 8-dimensional vectors from each input's text; usage counts words."""
    inputs = body.get("input")
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = []
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        seed = sum(ord(c) for c in text)
        vector = [round(((seed * (k + 3)) % 997) / 997.0, 6) for k in range(8)]
        data.append({"object": "embedding", "index": i, "embedding": vector})
    words = sum(count_words(x) if isinstance(x, str) else len(x) for x in items)
    usage = {"prompt_tokens": words, "total_tokens": words}
    return orjson.dumps(
        {"object": "list", "data": data, "model": body.get("model", ""), "usage": usage}
    )


# ---------------------------------------------------------------------------------------
# Errors


_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("invalid_request_error", "authentication_error"),
    403: ("insufficient_quota", "permission_error"),
    404: ("invalid_request_error", "not_found_error"),
    429: ("rate_limit_exceeded", "rate_limit_error"),
    529: ("server_error", "overloaded_error"),
}


def _presented_key(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    key = headers.get("x-api-key") or headers.get("x-goog-api-key", "")
    return auth.removeprefix("Bearer ").strip() or key


def error_body(protocol: Protocol, script: Script, headers: dict[str, str]) -> bytes:
    openai_type, anthropic_type = _ERROR_TYPES.get(script.status, ("server_error", "api_error"))
    message = script.error_message
    if message is None and script.status == 401:
        # Some upstreams echo the key they rejected; the gateway must not pass it on.
        message = f"Incorrect API key provided: {_presented_key(headers)}"
    message = message or f"fake upstream error {script.status}"
    if protocol == "gemini":
        return gemini_error(script.status, message)
    if protocol == "anthropic":
        return orjson.dumps(
            {"type": "error", "error": {"type": anthropic_type, "message": message}}
        )
    error = {"message": message, "type": openai_type, "param": None, "code": script.status}
    return orjson.dumps({"error": error})


STREAMS: dict[Protocol, Callable[[Script, Turn], Frames]] = {
    "openai": openai_stream,
    "anthropic": anthropic_stream,
    "gemini": gemini_stream,
}
BODIES: dict[Protocol, Callable[[Script, Turn], bytes]] = {
    "openai": openai_body,
    "anthropic": anthropic_body,
    "gemini": gemini_body,
}
STREAM_ERRORS: dict[Protocol, Callable[[Script], bytes]] = {
    "openai": openai_stream_error,
    "anthropic": anthropic_stream_error,
    "gemini": gemini_stream_error,
}
