"""The fake upstream's OpenAI bodies: chat completions, whole and streamed."""

from __future__ import annotations

from typing import Any

import orjson

from tokenport.lab.fake_script import (
    CREATED,
    Script,
    Turn,
    completion_tokens,
    reply_text,
    split_text,
)
from tokenport.wire.sse import sse_frame

_DONE = b"data: [DONE]\n\n"


def _openai_usage(script: Script, turn: Turn) -> dict[str, Any]:
    prompt = turn.words + script.cache_read_tokens + script.cache_write_tokens
    completion = completion_tokens(script, turn)
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


def openai_body(script: Script, turn: Turn) -> bytes:
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


def openai_stream(script: Script, turn: Turn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, deltas, tail) frames of an OpenAI stream."""
    head = [_openai_chunk(turn, {"role": "assistant", "content": ""})]
    if script.reasoning:
        head += [
            _openai_chunk(turn, {"reasoning_content": piece})
            for piece in split_text(script.reasoning, script.chunks)
        ]
    if turn.tool:
        deltas = _openai_call_deltas(script, turn)
    else:
        deltas = [
            _openai_chunk(turn, {"content": piece})
            for piece in split_text(reply_text(script, turn), script.chunks)
        ]
    tail = [_openai_chunk(turn, {}, _openai_finish(script, turn))]
    if turn.include_usage:
        tail.append(_openai_frame(turn, {"choices": [], "usage": _openai_usage(script, turn)}))
    return head, deltas, [*tail, _DONE]


def _openai_call_deltas(script: Script, turn: Turn) -> list[bytes]:
    """Each call's start then its argument pieces; interleaved: all starts, then pieces
    alternating between the calls, as some upstreams stream parallel calls."""
    pieces = split_text(script.tool_arguments, script.chunks)
    calls = range(script.parallel_calls)

    def start(i: int) -> bytes:
        return _openai_chunk(turn, {"tool_calls": [{"index": i, **_openai_call(turn, "", i)}]})

    def piece(i: int, text: str) -> bytes:
        return _openai_chunk(turn, {"tool_calls": [{"index": i, "function": {"arguments": text}}]})

    if turn.resumed_call:  # the rest of the call the request's partial answer started
        return [piece(0, p) for p in pieces]
    if script.interleave_calls:
        return [start(i) for i in calls] + [piece(i, p) for p in pieces for i in calls]
    return [frame for i in calls for frame in (start(i), *(piece(i, p) for p in pieces))]


def openai_stream_error(script: Script) -> bytes:
    error = {
        "message": f"fake upstream {script.stream_error_type}",
        "type": "server_error",
        "code": 502,
    }
    return sse_frame(orjson.dumps({"error": error}))
