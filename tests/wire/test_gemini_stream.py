"""Chunks -> Gemini stream frames and answers -> GenerateContentResponse
(`wire/gemini_stream.py`, `wire/gemini_reply.py`), checked with the stream grammar."""

from __future__ import annotations

import json

import pytest

from _grammar import check_gemini, parse_gemini_array, parse_sse
from tokenport.errors import BadRequest, RateLimited
from tokenport.values import ChatResponse, Choice, Chunk, Delta, Message, Thinking, Usage
from tokenport.wire import gemini_reply
from tokenport.wire.gemini_parse import parse_gemini_request
from tokenport.wire.gemini_stream import StreamEncoder

USAGE = Usage(prompt_tokens=10, completion_tokens=7, reasoning_tokens=3, cached_tokens=4)


def interleaved() -> list[Chunk]:
    """Reasoning, text, then two parallel calls streamed interleaved, as OpenAI upstreams do."""
    return [
        Chunk(delta=Delta(role="assistant", reasoning_content="hmm")),
        Chunk(delta=Delta(content="Hel")),
        Chunk(delta=Delta(content="lo")),
        Chunk(delta=Delta(tool_calls=[{"index": 0, "id": "a", "function": {"name": "f"}}])),
        Chunk(delta=Delta(tool_calls=[{"index": 1, "id": "b", "function": {"name": "g"}}])),
        Chunk(delta=Delta(tool_calls=[{"index": 0, "function": {"arguments": '{"x":'}}])),
        Chunk(delta=Delta(tool_calls=[{"index": 1, "function": {"arguments": "{}"}}])),
        Chunk(delta=Delta(tool_calls=[{"index": 0, "function": {"arguments": " 1}"}}])),
        Chunk(finish_reason="tool_calls"),
    ]


def run(encoder: StreamEncoder, chunks: list[Chunk]) -> bytes:
    return b"".join(encoder.chunk(c) for c in chunks) + encoder.end(USAGE, 0.25)


@pytest.mark.parametrize("sse", [True, False])
def test_stream_frames_obey_the_grammar_in_both_framings(sse: bool) -> None:
    raw = run(StreamEncoder("gen-1", "vendor/model", thoughts=True, sse=sse), interleaved())
    events = parse_sse(raw) if sse else parse_gemini_array(raw)
    got = check_gemini(events)
    assert (got["text"], got["thoughts"], got["finish"]) == ("Hello", "hmm", "STOP")
    assert got["calls"] == [
        {"id": "a", "name": "f", "args": {"x": 1}},
        {"id": "b", "name": "g", "args": {}},
    ]
    assert got["usage"] == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 17,
        "cost": 0.25,
    }
    # The calls arrive whole, in the last frame, with the finish reason.
    last = events[-1][1]
    assert len(last["candidates"][0]["content"]["parts"]) == 2


def test_thoughts_left_out_unless_asked() -> None:
    raw = run(StreamEncoder("gen-1", "m", thoughts=False, sse=True), interleaved())
    assert check_gemini(parse_sse(raw))["thoughts"] == ""


def test_error_after_start_is_a_final_error_frame() -> None:
    for sse in (True, False):
        enc = StreamEncoder("gen-1", "m", thoughts=False, sse=sse)
        raw = enc.chunk(Chunk(delta=Delta(content="partial"))) + enc.error(
            RateLimited("slow down", 3.0), "slow down"
        )
        events = parse_sse(raw) if sse else parse_gemini_array(raw)
        got = check_gemini(events)
        assert got["text"] == "partial"
        assert got["error"] == {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}


def test_length_finish_and_response_body() -> None:
    message = Message(role="assistant", content="hi", reasoning_content="why")
    resp = ChatResponse(
        id="x", model="vendor/model", created=0, choices=[Choice(0, message, "length")]
    )
    body = json.loads(gemini_reply.encode_response(resp, "gen-9", USAGE, None, thoughts=True))
    assert body["responseId"] == "gen-9" and body["modelVersion"] == "vendor/model"
    cand = body["candidates"][0]
    assert cand["finishReason"] == "MAX_TOKENS"
    assert cand["content"] == {
        "role": "model",
        "parts": [{"text": "why", "thought": True}, {"text": "hi"}],
    }
    assert "cost" not in body["usageMetadata"]


def test_error_body_shape() -> None:
    body = json.loads(gemini_reply.gemini_error_body(BadRequest("nope"), "nope"))
    assert body == {"error": {"code": 400, "message": "nope", "status": "INVALID_ARGUMENT"}}


def test_reasoning_rides_the_first_calls_signature_back_to_the_parser() -> None:
    """Kimi refuses a tool-call turn without its reasoning, Anthropic one without its signed
    thinking; Gemini clients keep only the call's thoughtSignature, which carries both."""
    chunks = [
        Chunk(delta=Delta(reasoning_content="plan ")),
        Chunk(delta=Delta(reasoning_content="it", signature="SIG")),
        Chunk(delta=Delta(redacted_thinking="OPAQUE")),
        *interleaved()[3:],
    ]
    raw = run(StreamEncoder("gen-1", "m", thoughts=False, sse=True), chunks)
    parts = parse_sse(raw)[-1][1]["candidates"][0]["content"]["parts"]
    assert "thoughtSignature" in parts[0] and "thoughtSignature" not in parts[1]
    history = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": parts},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
        ]
    }
    request, _ = parse_gemini_request(json.dumps(history).encode(), "m", False)
    model = request.messages[1]
    assert model.reasoning_content == "plan it"
    assert model.thinking == [Thinking("plan it", "SIG"), Thinking(redacted="OPAQUE")]
    assert [c["id"] for c in model.tool_calls or []] == ["a", "b"]
    whole = Message(role="assistant", tool_calls=model.tool_calls, reasoning_content="why")
    again = gemini_reply.parts(whole, thoughts=False)
    assert gemini_reply.read_signature(again[0]["thoughtSignature"]) == ("why", None)
    assert gemini_reply.read_signature("bm90IG91cnM=") is None  # someone else's: ignored
