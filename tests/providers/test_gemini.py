"""The Gemini adapter against the fake upstream's Gemini API: conversion both ways, streams,
thought signatures, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from _provider_fixtures import (
    API_KEY,
    PROMPT_WORDS,
    REPLY,
    WEATHER_TOOL,
    arguments,
    chat_request,
    collect,
    outcome,
    route,
    text_of,
)
from tokenport.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
)
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.providers.gemini import GeminiProvider
from tokenport.values import Chunk, Message, ProviderSpec, ThinkingConfig

pytestmark = pytest.mark.timeout(10)
SIGNATURE = Script().signature


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
async def provider(fake: FakeUpstream) -> AsyncIterator[GeminiProvider]:
    spec = ProviderSpec(name="google", base_url=fake.base_url + "/v1beta", protocol="gemini")
    adapter = GeminiProvider(spec, API_KEY)
    yield adapter
    await adapter.aclose()


def sent(fake: FakeUpstream) -> dict[str, Any]:
    body = fake.last_request.body
    assert isinstance(body, dict)
    return body


async def test_request_path_key_and_body(fake: FakeUpstream, provider: GeminiProvider) -> None:
    request = chat_request(
        max_tokens=100, temperature=0.3, top_k=5, stop="END", n=2, seed=7, top_p=0.9
    )
    resp = await provider.chat(request, route("gemini-2.5-flash"), timeout=5)
    seen = fake.last_request
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == API_KEY and "authorization" not in seen.headers
    assert seen.body == {
        "contents": [{"role": "user", "parts": [{"text": "Say hi"}]}],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.9,
            "topK": 5,
            "maxOutputTokens": 100,
            "candidateCount": 2,
            "seed": 7,
            "stopSequences": ["END"],
        },
    }
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens == PROMPT_WORDS


async def test_conversation_tools_media_and_results(
    fake: FakeUpstream, provider: GeminiProvider
) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        "extra_content": {"google": {"thought_signature": "R0VN"}},
    }
    messages = [
        Message(
            role="user",
            content=[
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.webp"}},
            ],
        ),
        Message(role="assistant", content=None, tool_calls=[call], reasoning_content="hmm"),
        Message(role="tool", tool_call_id="c1", content="sunny"),
        Message(role="tool", tool_call_id="c1", content='{"temp": 20}', is_error=None),
    ]
    request = chat_request(
        messages=messages, tools=[WEATHER_TOOL], tool_choice="required", response_format=None
    )
    await provider.chat(request, route(), timeout=5)
    body = sent(fake)
    user, model, results = body["contents"]
    assert user["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
    assert user["parts"][2] == {
        "fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/cat.webp"}
    }
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"},
                "thoughtSignature": "R0VN",
            }
        ],
    }
    assert results["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}, "id": "c1"}},
        {"functionResponse": {"name": "get_weather", "response": {"temp": 20}, "id": "c1"}},
    ]
    decl = body["tools"][0]["functionDeclarations"][0]
    assert decl["parametersJsonSchema"]["required"] == ["city"]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(
    ("fields", "want"),
    [
        ({"thinking": ThinkingConfig("enabled", 2048)}, {"thinkingBudget": 2048}),
        ({"thinking": ThinkingConfig("enabled")}, {"thinkingBudget": -1}),
        ({"thinking": ThinkingConfig("disabled")}, {"thinkingBudget": 0}),
        ({"reasoning_effort": "high"}, {"thinkingBudget": 24576}),
    ],
)
async def test_thinking_and_json_schema(
    fake: FakeUpstream, provider: GeminiProvider, fields: dict[str, Any], want: dict[str, Any]
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    await provider.chat(chat_request(response_format=fmt, **fields), route(), timeout=5)
    g = sent(fake)["generationConfig"]
    assert {k: v for k, v in g["thinkingConfig"].items() if k != "includeThoughts"} == want
    assert g["thinkingConfig"].get("includeThoughts", False) == (want["thinkingBudget"] != 0)
    assert (g["responseMimeType"], g["responseJsonSchema"]) == ("application/json", schema)


@pytest.mark.parametrize("stream", [False, True])
async def test_answer_with_thoughts_and_a_signed_call(
    fake: FakeUpstream, provider: GeminiProvider, stream: bool
) -> None:
    fake.set_script(Script(reasoning="let me see", parallel_calls=2))
    request = chat_request(tools=[WEATHER_TOOL], stream=stream)
    got = await outcome(provider, stream, request)
    assert got.finish == "tool_calls"
    assert [arguments(c) for c in got.tool_calls] == [{"city": "Paris"}] * 2
    assert len({c["id"] for c in got.tool_calls}) == 2
    assert got.usage is not None and got.usage.reasoning_tokens == 3
    if not stream:  # the streamed deltas carry it too, as a client's accumulator keeps it
        resp = await provider.chat(request, route(), timeout=5)
        first = (resp.choices[0].message.tool_calls or [])[0]
        assert first["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
        assert resp.choices[0].message.reasoning_content == "let me see"


async def test_stream_text_reasoning_and_usage(
    fake: FakeUpstream, provider: GeminiProvider
) -> None:
    fake.set_script(Script(chunks=3, reasoning="think first"))
    chunks = await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5))
    assert fake.last_request.path.endswith(":streamGenerateContent")
    # Without `alt=sse` Google streams one JSON array, which the SSE reader cannot read.
    assert GeminiProvider._path(route(), stream=True).endswith(":streamGenerateContent?alt=sse")
    assert text_of(chunks) == REPLY
    reasoning = "".join(c.delta.reasoning_content or "" for c in chunks if c.delta)
    assert reasoning == "think first"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5 + 2


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (Script(status=400), UpstreamBadRequest),
        (Script(status=401), UpstreamAuthError),
        (Script(status=429, retry_after=3), UpstreamRateLimited),
        (Script(status=503), UpstreamServerError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_errors(
    fake: FakeUpstream,
    provider: GeminiProvider,
    script: Script,
    error: type[Exception],
    stream: bool,
) -> None:
    fake.set_script(script)
    with pytest.raises(error) as caught:
        await outcome(provider, stream)
    assert API_KEY not in str(caught.value)  # the fake echoes the key on 401


async def test_error_frame_mid_stream(fake: FakeUpstream, provider: GeminiProvider) -> None:
    fake.set_script(Script(stream_error_after=1))
    received: list[Chunk] = []
    with pytest.raises(UpstreamServerError, match="UNAVAILABLE"):
        await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5), received)
    assert text_of(received) == "Hello from"


def test_blocked_prompt_is_a_content_filter_finish() -> None:
    from tokenport.wire.gemini_reply import parse_response

    raw = json.dumps({"promptFeedback": {"blockReason": "SAFETY"}}).encode()
    resp = parse_response("google", raw)
    assert resp.choices[0].finish_reason == "content_filter"
