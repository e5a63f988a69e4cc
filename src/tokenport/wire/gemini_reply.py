"""Gemini `GenerateContentResponse`s <-> `ChatResponse`, both ways, and Google's error shape.

ChatResponse -> client Gemini body       `encode_response` (the Gemini door)
upstream Gemini body -> ChatResponse     `parse_response`  (the Gemini adapter)

- Candidates carry their parts in Gemini's order: thoughts (`thought: true`, only when the
  client asked for them with `includeThoughts`), text, then function calls with `args` as
  an object. A tool-calling answer finishes `STOP`, as Gemini's do.
- `usageMetadata` counts as Gemini does: `candidatesTokenCount` leaves the thoughts out,
  `thoughtsTokenCount` holds them, `totalTokenCount` is the sum with the prompt. The cost
  the gateway settled goes in the same object as `cost` (USD), beside the counts.
- An answer's reasoning must come back with its tool calls: Kimi and DeepSeek refuse a
  tool-call turn without its `reasoning_content`, Anthropic (thinking on) one without its
  signed thinking block. Gemini clients drop thought parts from their history but keep a
  function call's `thoughtSignature`, Gemini's own opaque token for exactly this, so the
  reasoning and any signed blocks travel in it (base64 of a tagged JSON object) and the
  parser (`wire.gemini_parse`) restores them.
- Errors: `{"error": {"code", "message", "status"}}`, `status` being the gRPC code name
  Google's APIs give for the HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import msgspec
import orjson

from tokenport.errors import (
    TokenportError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from tokenport.redaction import redact
from tokenport.values import JSON, ChatResponse, Choice, Message, Thinking, Usage

_FINISH = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "error": "OTHER",
}

# google.rpc.Code names by HTTP status, as Google's APIs pair them.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_finish_reason(finish: str | None) -> str:
    return _FINISH.get(finish or "stop", "STOP")


def usage_metadata(usage: Usage, cost: float | None) -> JSON:
    thoughts = min(usage.reasoning_tokens, usage.completion_tokens)
    out: JSON = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens - thoughts,
        "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = min(usage.cached_tokens, usage.prompt_tokens)
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if cost is not None:
        out["cost"] = cost
    return out


_SIGNATURE_TAG = b"tokenport-thoughts:1:"


class _Thoughts(msgspec.Struct, omit_defaults=True):
    reasoning: str | None = None
    thinking: list[Thinking] | None = None


_thoughts_decoder = msgspec.json.Decoder(_Thoughts)


def thought_signature(reasoning: str | None, thinking: list[Thinking] | None) -> str | None:
    """The answer's reasoning as a `thoughtSignature`, for its first function call."""
    if not reasoning and not thinking:
        return None
    payload = msgspec.json.encode(_Thoughts(reasoning or None, thinking or None))
    return base64.b64encode(_SIGNATURE_TAG + payload).decode()


def read_signature(signature: Any) -> tuple[str | None, list[Thinking] | None] | None:
    """A `thoughtSignature` of ours -> (reasoning, thinking blocks); None for any other."""
    if not isinstance(signature, str):
        return None
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_SIGNATURE_TAG):
        return None
    try:
        found = _thoughts_decoder.decode(raw[len(_SIGNATURE_TAG) :])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return found.reasoning, found.thinking


def function_call(call: JSON, signature: str | None = None) -> JSON:
    """An OpenAI-shaped tool call as a Gemini `functionCall` part (`args` an object)."""
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        args = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        args = {"_raw_arguments": arguments}  # a model's broken JSON, handed over, not lost
    fc: JSON = {"name": function.get("name") or "", "args": args if isinstance(args, dict) else {}}
    if call.get("id"):
        fc["id"] = call["id"]
    part: JSON = {"functionCall": fc}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return ""


def parts(message: Message, thoughts: bool) -> list[JSON]:
    out: list[JSON] = []
    if thoughts and message.reasoning_content:
        out.append({"text": message.reasoning_content, "thought": True})
    text = _text(message.content)
    if text:
        out.append({"text": text})
    if message.tool_calls:
        ours = thought_signature(message.reasoning_content, message.thinking)
        for i, call in enumerate(message.tool_calls):
            out.append(function_call(call, gemini_signature(call) or (ours if i == 0 else None)))
    return out


def gemini_signature(call: JSON) -> str | None:
    """A Gemini upstream's own signature for this call, kept as Google's OpenAI-compatible
    endpoint keeps it."""
    google = (call.get("extra_content") or {}).get("google") or {}
    sig = google.get("thought_signature")
    return sig if isinstance(sig, str) else None


def candidate(choice: Choice, thoughts: bool) -> JSON:
    return {
        "content": {"role": "model", "parts": parts(choice.message, thoughts)},
        "finishReason": gemini_finish_reason(choice.finish_reason),
        "index": choice.index,
    }


def encode_response(
    resp: ChatResponse, gen_id: str, usage: Usage, cost: float | None, thoughts: bool
) -> bytes:
    return orjson.dumps(
        {
            "candidates": [candidate(c, thoughts) for c in resp.choices],
            "usageMetadata": usage_metadata(usage, cost),
            "modelVersion": resp.model,
            "responseId": gen_id,
        }
    )


def gemini_error_object(exc: TokenportError, message: str) -> JSON:
    status = _STATUS.get(exc.status) or ("INTERNAL" if exc.status >= 500 else "INVALID_ARGUMENT")
    return {"code": exc.status, "message": message, "status": status}


def gemini_error_body(exc: TokenportError, message: str) -> bytes:
    return orjson.dumps({"error": gemini_error_object(exc, message)})


# ---------------------------------------------------------------------------------------
# Upstream GenerateContentResponse -> ChatResponse (the Gemini adapter)

_UPSTREAM_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


class WireFunctionCall(msgspec.Struct):
    name: str = ""
    args: dict[str, Any] | None = None
    id: str | None = None


class WirePart(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool = False
    thought_signature: str | None = None
    function_call: WireFunctionCall | None = None


class WireContent(msgspec.Struct):
    parts: list[WirePart] = []


class WireCandidate(msgspec.Struct, rename="camel"):
    content: WireContent | None = None
    finish_reason: str | None = None
    index: int = 0


class WireUsage(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    cached_content_token_count: int = 0

    def to_usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_token_count,
            completion_tokens=self.candidates_token_count + self.thoughts_token_count,
            cached_tokens=self.cached_content_token_count,
            reasoning_tokens=self.thoughts_token_count,
        )


class WireError(msgspec.Struct):
    code: int = 500
    message: str = ""
    status: str = ""


class WireResponse(msgspec.Struct, rename="camel"):
    candidates: list[WireCandidate] = []
    usage_metadata: WireUsage | None = None
    model_version: str = ""
    response_id: str = ""
    error: WireError | None = None


response_decoder = msgspec.json.Decoder(WireResponse)


def upstream_finish(reason: str | None, calls: bool) -> str | None:
    if reason is None:
        return None
    finish = _UPSTREAM_FINISH.get(reason, "stop")
    return "tool_calls" if calls and finish == "stop" else finish


def upstream_call(fc: WireFunctionCall, call_id: str, signature: str | None) -> JSON:
    call: JSON = {
        "id": fc.id or call_id,
        "type": "function",
        "function": {"name": fc.name, "arguments": orjson.dumps(fc.args or {}).decode()},
    }
    if signature:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def _message(cand: WireCandidate) -> Message:
    parts = cand.content.parts if cand.content is not None else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    reasoning = "".join(p.text for p in parts if p.text and p.thought)
    calls: list[JSON] = []
    for p in parts:
        if p.function_call is not None:
            call_id = f"call_{cand.index}_{len(calls)}"
            calls.append(upstream_call(p.function_call, call_id, p.thought_signature))
    return Message(
        role="assistant",
        content=None if calls and not text else text,
        tool_calls=calls or None,
        reasoning_content=reasoning or None,
    )


def parse_response(provider: str, raw: bytes) -> ChatResponse:
    try:
        wire = response_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamProtocolError(provider, f"unreadable answer: {exc}") from exc
    choices = []
    for cand in wire.candidates:
        message = _message(cand)
        finish = upstream_finish(cand.finish_reason or "STOP", bool(message.tool_calls))
        choices.append(Choice(index=cand.index, message=message, finish_reason=finish))
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason)
        empty = Message(role="assistant", content="")
        choices = [Choice(index=0, message=empty, finish_reason="content_filter")]
    return ChatResponse(
        id=wire.response_id,
        model=wire.model_version,
        created=int(time.time()),
        choices=choices,
        usage=wire.usage_metadata.to_usage() if wire.usage_metadata is not None else None,
    )


_STREAM_ERRORS: dict[str, type[UpstreamError]] = {
    "RESOURCE_EXHAUSTED": UpstreamRateLimited,
    "UNAUTHENTICATED": UpstreamAuthError,
    "PERMISSION_DENIED": UpstreamAuthError,
    "INVALID_ARGUMENT": UpstreamBadRequest,
    "NOT_FOUND": UpstreamBadRequest,
    "FAILED_PRECONDITION": UpstreamBadRequest,
}


def gemini_stream_error(provider: str, error: WireError) -> UpstreamError:
    """An error frame in a Gemini upstream's stream as the matching UpstreamError."""
    cls = _STREAM_ERRORS.get(error.status, UpstreamServerError)
    return cls(provider, f"error in stream ({error.status}): {redact(error.message)[:300]}")
