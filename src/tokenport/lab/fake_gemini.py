"""The fake upstream's Gemini API (`/v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`), for the Gemini adapter's tests: the request read into a
`Turn`, and whole and streamed answers in Gemini's shape.

With `thinking_rule`, it holds the client to Gemini 3's rule: a model turn that called a
function must come back with the `thoughtSignature` Gemini gave its first call.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenport.lab.fake_script import (
    Script,
    Turn,
    completion_tokens,
    count_words,
    reply_text,
    split_text,
)
from tokenport.wire.sse import sse_frame


def _model_and_action(path: str) -> tuple[str, str]:
    rest = path.split("/models/", 1)[-1]
    model, _, action = rest.rpartition(":")
    return model, action


def _declared(body: dict[str, Any]) -> list[str]:
    return [
        str(d.get("name"))
        for t in body.get("tools") or ()
        if isinstance(t, dict)
        for d in t.get("functionDeclarations") or ()
        if isinstance(d, dict)
    ]


def _tool(body: dict[str, Any], wanted: str | None) -> str | None:
    names = _declared(body)
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if not names or config.get("mode") == "NONE":
        return None
    allowed = config.get("allowedFunctionNames") or []
    if allowed:
        return str(allowed[0])
    return wanted if wanted in names else names[0]


def _result(body: dict[str, Any]) -> str | None:
    contents = body.get("contents") or []
    last = contents[-1] if contents and isinstance(contents[-1], dict) else {}
    responses = [p["functionResponse"] for p in last.get("parts") or () if "functionResponse" in p]
    if not responses:
        return None
    return "".join(_text(r.get("response")) for r in responses)


def _text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return orjson.dumps(response).decode()


def gemini_turn(path: str, body: dict[str, Any], script: Script) -> Turn:
    model, action = _model_and_action(path)
    result = _result(body) if script.after_tool_result is not None else None
    reply = None
    if result is not None and script.after_tool_result is not None:
        reply = script.after_tool_result.replace("{result}", result.strip())
    words = count_words([p for c in body.get("contents") or () for p in c.get("parts") or ()])
    words += count_words((body.get("systemInstruction") or {}).get("parts"))
    return Turn(
        protocol="gemini",
        model=model,
        stream=action == "streamGenerateContent",
        include_usage=script.usage,
        words=words,
        tool=_tool(body, script.tool_name) if script.tool_calls and reply is None else None,
        reply=reply,
    )


def signature_violation(body: dict[str, Any], script: Script) -> str | None:
    """Gemini 3's rule: the first functionCall part of each model turn comes back with its
    thoughtSignature. The error message, or None."""
    for i, content in enumerate(body.get("contents") or ()):
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts") or () if "functionCall" in p]
        if calls and calls[0].get("thoughtSignature") != script.signature:
            return f"Function call is missing a thought_signature in functionCall parts. {i}"
    return None


def _usage(script: Script, turn: Turn) -> dict[str, Any]:
    prompt = turn.words + script.cache_read_tokens
    thoughts = len((script.reasoning or "").split())
    answer = completion_tokens(script, turn) - thoughts
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt + answer + thoughts,
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if script.cache_read_tokens:
        usage["cachedContentTokenCount"] = script.cache_read_tokens
    return usage


def _calls(script: Script, turn: Turn) -> list[dict[str, Any]]:
    args = orjson.loads(script.tool_arguments)
    parts: list[dict[str, Any]] = [
        {"functionCall": {"name": turn.tool, "args": args}} for _ in range(script.parallel_calls)
    ]
    parts[0]["thoughtSignature"] = script.signature
    return parts


def _frame(turn: Turn, parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if "finishReason" in extra:
        candidate["finishReason"] = extra.pop("finishReason")
    return {
        "candidates": [candidate],
        "modelVersion": turn.model,
        "responseId": "fake-gemini-response",
        **extra,
    }


def _finish(script: Script, turn: Turn) -> str:
    return "MAX_TOKENS" if script.finish == "length" and not turn.tool else "STOP"


def gemini_body(script: Script, turn: Turn) -> bytes:
    parts: list[dict[str, Any]] = []
    if script.reasoning:
        parts.append({"text": script.reasoning, "thought": True})
    parts += _calls(script, turn) if turn.tool else [{"text": reply_text(script, turn)}]
    extra: dict[str, Any] = {"finishReason": _finish(script, turn)}
    if turn.include_usage:
        extra["usageMetadata"] = _usage(script, turn)
    return orjson.dumps(_frame(turn, parts, **extra))


def gemini_stream(script: Script, turn: Turn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, deltas, tail): thoughts, then text pieces (or the calls, whole), then the
    frame with the finish reason and usage."""

    def frame(parts: list[dict[str, Any]], **extra: Any) -> bytes:
        return sse_frame(orjson.dumps(_frame(turn, parts, **extra)))

    deltas = [
        frame([{"text": p, "thought": True}])
        for p in split_text(script.reasoning or "", script.chunks)
        if script.reasoning
    ]
    if turn.tool:
        deltas.append(frame(_calls(script, turn)))
    else:
        deltas += [
            frame([{"text": p}]) for p in split_text(reply_text(script, turn), script.chunks)
        ]
    extra: dict[str, Any] = {"finishReason": _finish(script, turn)}
    if turn.include_usage:
        extra["usageMetadata"] = _usage(script, turn)
    return [], deltas, [frame([], **extra)]


def gemini_stream_error(script: Script) -> bytes:
    error = {"code": 503, "message": "fake upstream overloaded", "status": "UNAVAILABLE"}
    return sse_frame(orjson.dumps({"error": error}))


def gemini_error(status: int, message: str) -> bytes:
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
    names |= {404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
    code = names.get(status, "INTERNAL")
    return orjson.dumps({"error": {"code": status, "message": message, "status": code}})
