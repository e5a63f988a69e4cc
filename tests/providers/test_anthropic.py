"""The Anthropic adapter against the fake upstream: conversion both ways, streams, errors."""

from __future__ import annotations

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
    finish_of,
    outcome,
    route,
    text_of,
    tool_calls_of,
)
from tokenport.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.providers.anthropic import AnthropicProvider
from tokenport.values import Chunk, Message, ProviderSpec, Usage
from tokenport.wire.anthropic_reply import decode_messages_response
from tokenport.wire.anthropic_stream import StreamState

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
async def provider(fake: FakeUpstream) -> AsyncIterator[AnthropicProvider]:
    spec = ProviderSpec(name="anthropic", base_url=fake.base_url, protocol="anthropic")
    adapter = AnthropicProvider(spec, API_KEY)
    yield adapter
    await adapter.aclose()


def sent(fake: FakeUpstream) -> dict[str, Any]:
    body = fake.last_request.body
    assert isinstance(body, dict)
    return body


# -- request conversion --------------------------------------------------------------------


async def test_request_headers_and_basics(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    await provider.chat(chat_request(), route("claude-x"), timeout=5)
    seen = fake.last_request
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == API_KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body == {
        "model": "claude-x",
        "max_tokens": 4096,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hi"}],
    }


async def test_sampling_fields_and_extra(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    request = chat_request(
        max_tokens=10,
        max_completion_tokens=20,
        temperature=1.7,
        top_p=0.9,
        stop="END",
        user="u-1",
        seed=42,
        presence_penalty=0.5,
        extra={"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    await provider.chat(request, route(), timeout=5)
    body = sent(fake)
    assert body["max_tokens"] == 20  # max_completion_tokens wins
    assert body["temperature"] == 1.0  # clamped to Anthropic's range
    assert body["top_p"] == 0.9
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["top_k"] == 5
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "seed" not in body
    assert "presence_penalty" not in body


async def test_conversation_with_tools_images_and_results(
    fake: FakeUpstream, provider: AnthropicProvider
) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    call2 = {**call, "id": "call_2", "function": {"name": "get_weather", "arguments": ""}}
    image = "data:image/png;base64,iVBORw0KGgo="
    messages = [
        Message(role="developer", content="Use tools."),
        Message(
            role="user",
            content=[
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": image}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
            ],
        ),
        Message(role="assistant", content="Checking.", tool_calls=[call, call2]),
        Message(role="tool", tool_call_id="call_1", content="18C"),
        Message(role="tool", tool_call_id="call_2", content=[{"type": "text", "text": "sunny"}]),
        Message(role="user", content="Thanks"),
    ]
    request = chat_request(messages=messages, tools=[WEATHER_TOOL], tool_choice="required")
    await provider.chat(request, route(), timeout=5)
    body = sent(fake)
    assert body["system"] == "Use tools."
    user, assistant, results = body["messages"]
    assert user["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert user["content"][2]["source"] == {"type": "url", "url": "https://x.test/a.jpg"}
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
        ],
    }
    # Both results and the next user text share one user turn, in order.
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
            {
                "type": "tool_result",
                "tool_use_id": "call_2",
                "content": [{"type": "text", "text": "sunny"}],
            },
            {"type": "text", "text": "Thanks"},
        ],
    }
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert body["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
async def test_tool_choice(
    fake: FakeUpstream,
    provider: AnthropicProvider,
    choice: Any,
    parallel: bool | None,
    expected: dict[str, Any],
) -> None:
    request = chat_request(tools=[WEATHER_TOOL], tool_choice=choice, parallel_tool_calls=parallel)
    await provider.chat(request, route(), timeout=5)
    assert sent(fake)["tool_choice"] == expected


async def test_response_format_becomes_a_system_instruction(
    fake: FakeUpstream, provider: AnthropicProvider
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    await provider.chat(chat_request(response_format=response_format), route(), timeout=5)
    system = sent(fake)["system"]
    assert system.startswith("You are terse.\n\n")
    assert '{"type":"object","properties":{"n":{"type":"integer"}}}' in system


async def test_cache_control_on_system_parts_is_kept(
    fake: FakeUpstream, provider: AnthropicProvider
) -> None:
    part = {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}
    request = chat_request(
        messages=[Message(role="system", content=[part]), *chat_request().messages[1:]]
    )
    await provider.chat(request, route(), timeout=5)
    assert sent(fake)["system"] == [part]


async def test_base_url_with_version_suffix(fake: FakeUpstream) -> None:
    spec = ProviderSpec(name="anthropic", base_url=fake.base_url + "/v1/", protocol="anthropic")
    adapter = AnthropicProvider(spec, None)
    try:
        await adapter.chat(chat_request(), route(), timeout=5)
    finally:
        await adapter.aclose()
    assert fake.last_request.path == "/v1/messages"
    assert "x-api-key" not in fake.last_request.headers


# -- responses -----------------------------------------------------------------------------


async def test_non_stream_text_and_cache_usage(
    fake: FakeUpstream, provider: AnthropicProvider
) -> None:
    fake.set_script(Script(cache_read_tokens=100, cache_write_tokens=20))
    resp = await provider.chat(chat_request(), route("claude-x"), timeout=5)
    assert resp.model == "claude-x"
    assert resp.id == "msg_fake"
    choice = resp.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", REPLY)
    assert choice.finish_reason == "stop"
    assert resp.usage == Usage(
        prompt_tokens=PROMPT_WORDS + 120,
        completion_tokens=5,
        cached_tokens=100,
        cache_write_tokens=20,
    )


async def test_non_stream_tool_call(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    resp = await provider.chat(chat_request(tools=[WEATHER_TOOL]), route(), timeout=5)
    message = resp.choices[0].message
    assert message.content is None
    assert message.tool_calls == [
        {
            "id": "toolu_fake_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert resp.choices[0].finish_reason == "tool_calls"


async def test_stream_text(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    fake.set_script(Script(chunks=4, cache_read_tokens=3, finish="length"))
    chunks = await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5))
    assert chunks[0].delta is not None
    assert chunks[0].delta.role == "assistant"
    assert text_of(chunks) == REPLY
    assert len([c for c in chunks if c.delta and c.delta.content]) == 4
    assert finish_of(chunks) == "length"
    last = chunks[-1]
    assert last.delta is None
    assert last.usage == Usage(prompt_tokens=PROMPT_WORDS + 3, completion_tokens=5, cached_tokens=3)


async def test_stream_tool_call(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    fake.set_script(Script(chunks=6, tool_arguments='{"city": "Paris", "unit": "C"}'))
    request = chat_request(tools=[WEATHER_TOOL], stream=True)
    chunks = await collect(provider.stream_chat(request, route(), timeout=5))
    first = next(c for c in chunks if c.delta and c.delta.tool_calls)
    assert first.delta is not None
    assert first.delta.tool_calls == [
        {
            "index": 0,
            "id": "toolu_fake_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    (call,) = tool_calls_of(chunks)
    assert arguments(call) == {"city": "Paris", "unit": "C"}
    assert finish_of(chunks) == "tool_calls"
    assert chunks[-1].usage is not None


async def test_missing_usage(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    fake.set_script(Script(usage=False))
    resp = await provider.chat(chat_request(), route(), timeout=5)
    assert resp.usage is None
    chunks = await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5))
    assert text_of(chunks) == REPLY
    assert all(c.usage is None for c in chunks)


def test_thinking_blocks_become_reasoning() -> None:
    raw = (
        b'{"id":"m","model":"c","content":[{"type":"thinking","thinking":"hmm","signature":"s"},'
        b'{"type":"text","text":"42"}],"stop_reason":"refusal","usage":{"input_tokens":1,'
        b'"output_tokens":2,"cache_read_input_tokens":null}}'
    )
    resp = decode_messages_response("anthropic", raw)
    assert resp.choices[0].message.reasoning_content == "hmm"
    assert resp.choices[0].message.content == "42"
    assert resp.choices[0].finish_reason == "content_filter"
    assert resp.usage == Usage(prompt_tokens=1, completion_tokens=2)


def test_stream_usage_merges_start_and_delta() -> None:
    state = StreamState("anthropic")
    events = [
        b'{"type":"message_start","message":{"id":"m","model":"c","content":[],'
        b'"usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":4}}}',
        b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":9,"cache_creation_input_tokens":2}}',
        b'{"type":"message_stop"}',
    ]
    chunks: list[Chunk] = [c for e in events for c in state.feed(e)]
    state.finish()
    assert chunks[-1].usage == Usage(
        prompt_tokens=16, completion_tokens=9, cached_tokens=4, cache_write_tokens=2
    )


def test_stream_without_message_stop_is_a_protocol_error() -> None:
    state = StreamState("anthropic")
    state.feed(b'{"type":"message_start","message":{"id":"m","model":"c","content":[]}}')
    with pytest.raises(UpstreamProtocolError):
        state.finish()
    with pytest.raises(UpstreamProtocolError):
        state.feed(b"{not json")


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (Script(status=401), UpstreamAuthError),
        (Script(status=403), UpstreamAuthError),
        (Script(status=400), UpstreamBadRequest),
        (Script(status=500), UpstreamServerError),
        (Script(status=529), UpstreamServerError),
        (Script(cut_after=0), UpstreamConnectError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_errors(
    fake: FakeUpstream,
    provider: AnthropicProvider,
    script: Script,
    error: type[Exception],
    stream: bool,
) -> None:
    fake.set_script(script)
    with pytest.raises(error) as caught:
        await outcome(provider, stream)
    assert API_KEY not in str(caught.value)  # the fake echoes the key on 401


async def test_rate_limit_carries_retry_after(
    fake: FakeUpstream, provider: AnthropicProvider
) -> None:
    fake.set_script(Script(status=429, retry_after=7))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider.chat(chat_request(), route(), timeout=5)
    assert caught.value.retry_after == 7
    assert caught.value.http_status == 429


async def test_hang_times_out(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    fake.set_script(Script(hang=True))
    with pytest.raises(UpstreamTimeout):
        await provider.chat(chat_request(), route(), timeout=0.2)
    with pytest.raises(UpstreamTimeout):
        await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=0.2))


async def test_cut_mid_stream(fake: FakeUpstream, provider: AnthropicProvider) -> None:
    fake.set_script(Script(chunks=4, cut_after=2))
    received: list[Chunk] = []
    with pytest.raises(UpstreamConnectError):
        await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5), received)
    assert text_of(received) == "Hello from the "  # two of four deltas arrived


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("overloaded_error", UpstreamServerError),
        ("api_error", UpstreamServerError),
        ("rate_limit_error", UpstreamRateLimited),
        ("invalid_request_error", UpstreamBadRequest),
    ],
)
async def test_error_event_mid_stream(
    fake: FakeUpstream, provider: AnthropicProvider, kind: str, error: type[Exception]
) -> None:
    fake.set_script(Script(stream_error_after=1, stream_error_type=kind))
    received: list[Chunk] = []
    with pytest.raises(error, match=kind):
        await collect(provider.stream_chat(chat_request(stream=True), route(), timeout=5), received)
    assert text_of(received) == "Hello from"


async def test_unreachable_upstream() -> None:
    spec = ProviderSpec(name="anthropic", base_url="http://127.0.0.1:9", protocol="anthropic")
    adapter = AnthropicProvider(spec, API_KEY)
    try:
        with pytest.raises(UpstreamConnectError):
            await adapter.chat(chat_request(), route(), timeout=2)
    finally:
        await adapter.aclose()


async def test_bad_tool_arguments_in_history(provider: AnthropicProvider) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
    messages = [Message(role="user", content="x"), Message(role="assistant", tool_calls=[call])]
    with pytest.raises(UpstreamBadRequest):
        await provider.chat(chat_request(messages=messages), route(), timeout=5)
