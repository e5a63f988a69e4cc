"""What every door's parser shares: decoding a body into a JSON object, range checks, and
telling a client that its body belongs to another door.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from tokenport.errors import BadRequest

T = TypeVar("T")
JSON = dict[str, Any]

# Deeper than any real request, shallow enough that no recursive walk of ours overflows.
MAX_DEPTH = 64
# Token counts beyond this are typos or attacks; they also overflow 64-bit columns.
MAX_TOKENS_BOUND = 2**31 - 1
_AT = re.compile(r"`\$\.(\w+)")
_decoder = msgspec.json.Decoder()

# The path each door listens on, for messages that send a client to the right one.
DOOR_PATHS = {
    "chat": "/v1/chat/completions",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
}


def decode_object(body: bytes) -> JSON:
    """Bytes -> a JSON object, or a 400 that says what is wrong with them."""
    try:
        raw = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:  # defensive: msgspec reports bad UTF-8 as DecodeError
        raise BadRequest("The request body is not valid UTF-8.") from exc
    except RecursionError as exc:  # msgspec's own guard against a hostile nesting depth
        raise BadRequest(f"The request body nests deeper than {MAX_DEPTH} levels.") from exc
    if not isinstance(raw, dict):
        raise BadRequest("The request body must be a JSON object.")
    if _too_deep(raw, MAX_DEPTH):
        raise BadRequest(f"The request body nests deeper than {MAX_DEPTH} levels.")
    return raw


def _too_deep(node: Any, budget: int) -> bool:
    # Iterative, so a hostile body cannot overflow the stack of the check itself.
    stack: list[tuple[Any, int]] = [(node, budget)]
    while stack:
        item, left = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if left <= 0:
            return True
        stack.extend((child, left - 1) for child in children if isinstance(child, dict | list))
    return False


def convert(raw: JSON, kind: type[T], what: str) -> T:
    """Validate a decoded body into a typed value; the 400 names the offending field."""
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        m = _AT.search(str(exc))
        raise BadRequest(f"Invalid {what}: {exc}", param=m.group(1) if m else None) from exc


def check_range(name: str, value: Any, lo: float | None, hi: float | None) -> None:
    if value is None:
        return
    if value != value:  # NaN compares false with every bound
        raise BadRequest(f"`{name}` must be a number; got NaN.", param=name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise BadRequest(f"`{name}` must be {bounds}; got {value}.", param=name)


def check_tokens(name: str, value: int | None) -> None:
    check_range(name, value, 1, MAX_TOKENS_BOUND)


def wrong_door(raw: JSON, here: str) -> str | None:
    """If `raw` is plainly a body for another door, which one (by its API's telltales)."""
    if "input" in raw and "messages" not in raw:
        return None if here in ("responses", "embeddings") else "responses"
    if "prompt" in raw and "messages" not in raw:
        return None if here == "completions" else "completions"
    messages = raw.get("messages")
    if not isinstance(messages, list):
        return None
    if here in ("responses", "completions", "embeddings"):
        return "messages" if _looks_anthropic(raw, messages) else "chat"
    if here == "messages" and _looks_openai(raw, messages):
        return "chat"
    if here != "messages" and _looks_anthropic(raw, messages):
        return "messages"
    return None


def wrong_door_error(raw: JSON, here: str, api: str) -> BadRequest | None:
    other = wrong_door(raw, here)
    if other is None:
        return None
    names = {
        "chat": "an OpenAI Chat Completions",
        "messages": "an Anthropic Messages",
        "responses": "an OpenAI Responses",
        "completions": "a legacy OpenAI Completions",
    }
    return BadRequest(
        f"This is {names[other]} request body, sent to the {api} endpoint "
        f"({DOOR_PATHS[here]}). Send it to {DOOR_PATHS[other]} instead."
    )


_OPENAI_ONLY_FIELDS = ("response_format", "n", "logit_bias", "max_completion_tokens")


def _looks_openai(raw: JSON, messages: list[Any]) -> bool:
    if any(k in raw for k in _OPENAI_ONLY_FIELDS):
        return True
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("role") in ("tool", "function", "developer") or "tool_calls" in m:
            return True
        content = m.get("content")
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") in ("image_url", "input_audio") for p in content
        ):
            return True
    return False


def _looks_anthropic(raw: JSON, messages: list[Any]) -> bool:
    if "system" in raw or "stop_sequences" in raw:
        return True
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict)
            and (p.get("type") in ("tool_use", "tool_result", "thinking") or "source" in p)
            for p in content
        ):
            return True
    return False
