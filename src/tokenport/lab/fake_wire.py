"""The fake upstream's wire bodies: what an OpenAI or Anthropic server would send.

Pure functions of a `Script` and the request's `Turn`, so `fake.py` can cache the
encoded bytes and answer thousands of requests a second.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import orjson

from tokenport.wire.sse import sse_frame

Protocol = Literal["openai", "anthropic"]
Frames = tuple[list[bytes], list[bytes], list[bytes]]  # (head, deltas, tail) of a stream
_TEXT_KEYS = frozenset({"content", "text"})
_DONE = b"data: [DONE]\n\n"
CREATED = 1_700_000_000  # fixed so bodies can be cached


class Script(msgspec.Struct, frozen=True, kw_only=True):
    """How the fake answers one request. Frozen and hashable: bodies are cached per script."""

    text: str = "Hello from the fake upstream."
    latency_ms: float = 0.0  # before the response headers
    chunks: int = 3  # stream deltas the reply is split into (at most one per character)
    chunk_interval_ms: float = 0.0  # pause before each delta after the first
    status: int = 200  # non-2xx answers an error body in the protocol's own shape
    error_message: str | None = None  # None: a stock message (401 echoes the presented key)
    retry_after: float | None = None  # sent as a Retry-After header, on any status
    hang: bool = False  # accept the request and never answer
    cut_after: int | None = None  # drop the connection after k stream deltas (non-stream: at once)
    stream_error_after: int | None = None  # emit an in-stream error event after k deltas
    stream_error_type: str = "overloaded_error"  # Anthropic error type of that event
    usage: bool = True  # False: omit usage even when the client asks for it
    tool_calls: bool = True  # answer with a call to a tool when the request offers tools
    tool_arguments: str = '{"city": "Paris"}'  # a JSON object, as text
    tool_name: str | None = None  # call this tool when offered (else the forced or first one)
    parallel_calls: int = 1  # how many calls (to the same tool) one answer makes
    interleave_calls: bool = False  # OpenAI streams: all calls start, then arguments alternate
    # After a tool ran: when the request's last turn is a tool result, answer this text with
    # `{result}` replaced by the result instead of calling a tool (a whole agent round trip).
    after_tool_result: str | None = None
    reasoning: str | None = None  # reasoning before the answer (OpenAI reasoning_content,
    signature: str = "c2lnbmVkLWJ5LWZha2U="  # Anthropic: a thinking block with this signature)
    # Anthropic: answer 400, as Anthropic does, when thinking is on and the last assistant
    # turn calls a tool without its thinking block first (sent back signed, as received).
    thinking_rule: bool = False
    # OpenAI: answer 400 to a message whose role is not one of these, as strict upstreams do
    # (DeepSeek knows no "developer"). None: any role.
    roles: tuple[str, ...] | None = None
    finish: Literal["stop", "length"] = "stop"
    cost: float | None = None  # reported as OpenRouter's `usage.cost` (OpenAI protocol)
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class Turn(msgspec.Struct, frozen=True):
    """The parts of a request that shape the answer."""

    protocol: Protocol
    model: str
    stream: bool
    include_usage: bool
    words: int
    tool: str | None
    reply: str | None = None  # the text to answer, when not the script's own
    logprobs: bool = False  # the request asked for token logprobs


# ---------------------------------------------------------------------------------------
# Reading a request


def _words(node: Any) -> int:
    if isinstance(node, str):
        return len(node.split())
    if isinstance(node, list):
        return sum(_words(item) for item in node)
    if isinstance(node, dict):
        return sum(_words(v) for k, v in node.items() if k in _TEXT_KEYS)
    return 0


def _offered(tool: Any) -> str:
    return str((tool.get("function") or {}).get("name") or tool.get("name") or "tool")


def _tool_name(body: dict[str, Any], wanted: str | None) -> str | None:
    """The tool a reply should call: the forced one, else the wanted or first offered one;
    None for 'none'."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    if isinstance(choice, dict):
        forced = choice.get("name") or (choice.get("function") or {}).get("name")
        if forced:
            return str(forced)
    names = [_offered(t) for t in tools]
    return wanted if wanted in names else names[0]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            _text_of(p.get("text", p.get("content"))) for p in content if isinstance(p, dict)
        )
    return ""


def _tool_result(body: dict[str, Any]) -> str | None:
    """The result text when the request's last turn reports a tool's result."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "tool":
        return _text_of(last.get("content"))
    content = last.get("content")
    if last.get("role") == "user" and isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return "".join(_text_of(b.get("content")) for b in results)
    return None


def thinking_violation(body: dict[str, Any]) -> str | None:
    """Anthropic's rule with thinking on: the last assistant turn, when it calls a tool,
    starts with a signed thinking block (or a redacted one). The error message, or None."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return None
    messages = body.get("messages") or []
    turns = [
        (i, m)
        for i, m in enumerate(messages)
        if isinstance(m, dict) and m.get("role") == "assistant"
    ]
    if not turns or not isinstance(turns[-1][1].get("content"), list):
        return None
    i, last = turns[-1]
    blocks = [b for b in last["content"] if isinstance(b, dict)]
    if not any(b.get("type") == "tool_use" for b in blocks):
        return None
    first = blocks[0]
    if first.get("type") == "thinking" and not first.get("signature"):
        return f"messages.{i}.content.0.thinking.signature: Field required"
    if first.get("type") in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must "
        "start with a thinking block (preceeding the lastmost set of `tool_use` and "
        "`tool_result` blocks)."
    )


def role_violation(body: dict[str, Any], roles: tuple[str, ...]) -> str | None:
    """The error a strict OpenAI-compatible upstream (DeepSeek's words) gives a message role
    it does not know, or None."""
    for i, message in enumerate(body.get("messages") or []):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in roles:
            expected = ", ".join(f"`{r}`" for r in roles)
            return (
                "Failed to deserialize the JSON body into the target type: "
                f"messages[{i}].role: unknown variant `{role}`, expected one of {expected}"
            )
    return None


def turn_of(protocol: Protocol, body: dict[str, Any], script: Script) -> Turn:
    options = body.get("stream_options") or {}
    # Anthropic always reports usage; OpenAI streams only when asked.
    wants_usage = protocol == "anthropic" or not body.get("stream") or options.get("include_usage")
    result = _tool_result(body) if script.after_tool_result is not None else None
    reply = None
    if result is not None and script.after_tool_result is not None:
        reply = script.after_tool_result.replace("{result}", result.strip())
    return Turn(
        protocol=protocol,
        model=str(body.get("model", "fake-model")),
        stream=bool(body.get("stream")),
        include_usage=bool(wants_usage) and script.usage,
        words=_words(body.get("messages")) + _words(body.get("system")),
        tool=_tool_name(body, script.tool_name) if script.tool_calls and reply is None else None,
        reply=reply,
        logprobs=bool(body.get("logprobs")),
    )


def reply_text(script: Script, turn: Turn) -> str:
    return turn.reply if turn.reply is not None else script.text


def _split(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    cuts = [i * size + min(i, extra) for i in range(n + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


def _completion_tokens(script: Script, turn: Turn) -> int:
    if turn.tool:
        out = script.parallel_calls * len(script.tool_arguments.split())
    else:
        out = len(reply_text(script, turn).split())
    return max(1, out + len((script.reasoning or "").split()))


# ---------------------------------------------------------------------------------------
# OpenAI bodies


def _openai_usage(script: Script, turn: Turn) -> dict[str, Any]:
    prompt = turn.words + script.cache_read_tokens + script.cache_write_tokens
    completion = _completion_tokens(script, turn)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": script.cache_read_tokens,
            "cache_write_tokens": script.cache_write_tokens,
        },
    }
    if script.cost is not None:
        usage["cost"] = script.cost
    return usage


def _openai_finish(script: Script, turn: Turn) -> str:
    return "tool_calls" if turn.tool else script.finish


def _openai_call(turn: Turn, arguments: str, i: int = 0) -> dict[str, Any]:
    return {
        "id": f"call_fake_{i}",
        "type": "function",
        "function": {"name": turn.tool, "arguments": arguments},
    }


def _openai_body(script: Script, turn: Turn) -> bytes:
    text = None if turn.tool else reply_text(script, turn)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if script.reasoning:
        message["reasoning_content"] = script.reasoning
    if turn.tool:
        message["tool_calls"] = [
            _openai_call(turn, script.tool_arguments, i) for i in range(script.parallel_calls)
        ]
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": turn.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _openai_finish(script, turn),
                "logprobs": _logprobs(text.split(" ")) if turn.logprobs and text else None,
            }
        ],
    }
    if turn.include_usage:
        body["usage"] = _openai_usage(script, turn)
    return orjson.dumps(body)


def _logprobs(tokens: list[str]) -> dict[str, Any]:
    """Made-up but well-formed token logprobs (each token its own top alternative)."""
    return {
        "content": [
            {
                "token": t,
                "logprob": -0.25,
                "bytes": list(t.encode()),
                "top_logprobs": [{"token": t, "logprob": -0.25, "bytes": list(t.encode())}],
            }
            for t in tokens
        ]
    }


def _openai_chunk(turn: Turn, delta: dict[str, Any], finish: str | None = None) -> bytes:
    text = delta.get("content")
    logprobs = _logprobs([text]) if turn.logprobs and text else None
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
    return _openai_frame(turn, {"choices": [choice]})


def _openai_frame(turn: Turn, fields: dict[str, Any]) -> bytes:
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": turn.model,
    }
    return sse_frame(orjson.dumps(base | fields))


def _openai_stream(script: Script, turn: Turn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, deltas, tail) frames of an OpenAI stream."""
    head = [_openai_chunk(turn, {"role": "assistant", "content": ""})]
    if script.reasoning:
        head += [
            _openai_chunk(turn, {"reasoning_content": piece})
            for piece in _split(script.reasoning, script.chunks)
        ]
    if turn.tool:
        deltas = _openai_call_deltas(script, turn)
    else:
        deltas = [
            _openai_chunk(turn, {"content": piece})
            for piece in _split(reply_text(script, turn), script.chunks)
        ]
    tail = [_openai_chunk(turn, {}, _openai_finish(script, turn))]
    if turn.include_usage:
        tail.append(_openai_frame(turn, {"choices": [], "usage": _openai_usage(script, turn)}))
    return head, deltas, [*tail, _DONE]


def _openai_call_deltas(script: Script, turn: Turn) -> list[bytes]:
    """Each call's start then its argument pieces; interleaved: all starts, then pieces
    alternating between the calls, as some upstreams stream parallel calls."""
    pieces = _split(script.tool_arguments, script.chunks)
    calls = range(script.parallel_calls)

    def start(i: int) -> bytes:
        return _openai_chunk(turn, {"tool_calls": [{"index": i, **_openai_call(turn, "", i)}]})

    def piece(i: int, text: str) -> bytes:
        return _openai_chunk(turn, {"tool_calls": [{"index": i, "function": {"arguments": text}}]})

    if script.interleave_calls:
        return [start(i) for i in calls] + [piece(i, p) for p in pieces for i in calls]
    return [frame for i in calls for frame in (start(i), *(piece(i, p) for p in pieces))]


def _openai_stream_error(script: Script) -> bytes:
    error = {
        "message": f"fake upstream {script.stream_error_type}",
        "type": "server_error",
        "code": 502,
    }
    return sse_frame(orjson.dumps({"error": error}))


# ---------------------------------------------------------------------------------------
# Anthropic bodies


def _anthropic_usage(script: Script, turn: Turn, output: int) -> dict[str, Any]:
    return {
        "input_tokens": turn.words,
        "output_tokens": output,
        "cache_creation_input_tokens": script.cache_write_tokens,
        "cache_read_input_tokens": script.cache_read_tokens,
    }


def _anthropic_stop(script: Script, turn: Turn) -> str:
    if turn.tool:
        return "tool_use"
    return "max_tokens" if script.finish == "length" else "end_turn"


def _anthropic_message(
    script: Script, turn: Turn, content: list[Any], done: bool
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": _anthropic_stop(script, turn) if done else None,
        "stop_sequence": None,
    }
    if turn.include_usage:
        output = _completion_tokens(script, turn) if done else 1
        message["usage"] = _anthropic_usage(script, turn, output)
    return message


def _anthropic_blocks(script: Script, turn: Turn, done: bool) -> list[dict[str, Any]]:
    """The answer's content blocks, whole (`done`) or as each block's start."""
    blocks: list[dict[str, Any]] = []
    if script.reasoning:
        blocks.append(
            {
                "type": "thinking",
                "thinking": script.reasoning if done else "",
                "signature": script.signature if done else "",
            }
        )
    if turn.tool:
        args = orjson.loads(script.tool_arguments) if done else {}
        blocks += [
            {"type": "tool_use", "id": f"toolu_fake_{i}", "name": turn.tool, "input": args}
            for i in range(script.parallel_calls)
        ]
    else:
        blocks.append({"type": "text", "text": reply_text(script, turn) if done else ""})
    return blocks


def _anthropic_body(script: Script, turn: Turn) -> bytes:
    return orjson.dumps(
        _anthropic_message(script, turn, _anthropic_blocks(script, turn, True), True)
    )


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return sse_frame(orjson.dumps({"type": name, **payload}), name)


def _anthropic_stream(script: Script, turn: Turn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, deltas, tail) frames of a Messages stream, in Anthropic's event order."""
    head = [_event("message_start", {"message": _anthropic_message(script, turn, [], False)})]
    deltas: list[bytes] = []
    for index, block in enumerate(_anthropic_blocks(script, turn, False)):
        frames = [
            _event("content_block_start", {"index": index, "content_block": block}),
            *_block_deltas(script, turn, index, block["type"]),
            _event("content_block_stop", {"index": index}),
        ]
        if index == 0:  # the scripted deltas start with the first block's first delta
            head += [frames[0], _event("ping", {})]
            frames = frames[1:]
        deltas += frames
    stop: dict[str, Any] = {
        "delta": {"stop_reason": _anthropic_stop(script, turn), "stop_sequence": None}
    }
    if turn.include_usage:
        stop["usage"] = {"output_tokens": _completion_tokens(script, turn)}
    tail = [_event("message_delta", stop), _event("message_stop", {})]
    return head, deltas, tail


def _block_deltas(script: Script, turn: Turn, index: int, kind: str) -> list[bytes]:
    if kind == "thinking":
        pieces = [
            {"type": "thinking_delta", "thinking": p}
            for p in _split(script.reasoning or "", script.chunks)
        ]
        pieces.append({"type": "signature_delta", "signature": script.signature})
    elif kind == "tool_use":
        pieces = [
            {"type": "input_json_delta", "partial_json": p}
            for p in _split(script.tool_arguments, script.chunks)
        ]
    else:
        pieces = [
            {"type": "text_delta", "text": p}
            for p in _split(reply_text(script, turn), script.chunks)
        ]
    return [_event("content_block_delta", {"index": index, "delta": d}) for d in pieces]


def _anthropic_stream_error(script: Script) -> bytes:
    error = {
        "type": script.stream_error_type,
        "message": f"fake upstream {script.stream_error_type}",
    }
    return _event("error", {"error": error})


# ---------------------------------------------------------------------------------------
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
    words = sum(_words(x) if isinstance(x, str) else len(x) for x in items)
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
    return auth.removeprefix("Bearer ").strip() or headers.get("x-api-key", "")


def error_body(protocol: Protocol, script: Script, headers: dict[str, str]) -> bytes:
    openai_type, anthropic_type = _ERROR_TYPES.get(script.status, ("server_error", "api_error"))
    message = script.error_message
    if message is None and script.status == 401:
        # Some upstreams echo the key they rejected; the gateway must not pass it on.
        message = f"Incorrect API key provided: {_presented_key(headers)}"
    message = message or f"fake upstream error {script.status}"
    if protocol == "anthropic":
        return orjson.dumps(
            {"type": "error", "error": {"type": anthropic_type, "message": message}}
        )
    error = {"message": message, "type": openai_type, "param": None, "code": script.status}
    return orjson.dumps({"error": error})


STREAMS: dict[Protocol, Callable[[Script, Turn], Frames]] = {
    "openai": _openai_stream,
    "anthropic": _anthropic_stream,
}
BODIES: dict[Protocol, Callable[[Script, Turn], bytes]] = {
    "openai": _openai_body,
    "anthropic": _anthropic_body,
}
STREAM_ERRORS: dict[Protocol, Callable[[Script], bytes]] = {
    "openai": _openai_stream_error,
    "anthropic": _anthropic_stream_error,
}
