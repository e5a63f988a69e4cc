"""One conformance suite for every provider adapter.

Each adapter talks to the same scripted fake upstream in its own wire protocol; the typed
values it returns must be the same. A new adapter joins by adding an id to ADAPTERS and a
branch to `_fixtures.make_provider`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _fixtures import (
    API_KEY,
    PROMPT_WORDS,
    REPLY,
    REPLY_WORDS,
    WEATHER_TOOL,
    arguments,
    chat_request,
    make_provider,
    outcome,
    text_of,
)

from tokenport.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamConnectError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.providers.base import Provider
from tokenport.values import Chunk, Usage

pytestmark = pytest.mark.timeout(10)

ADAPTERS = [
    pytest.param("openai_compat", id="openai_compat"),
    pytest.param("anthropic", id="anthropic"),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(params=ADAPTERS)
async def provider(request: pytest.FixtureRequest, fake: FakeUpstream) -> AsyncIterator[Provider]:
    adapter = make_provider(request.param, fake.base_url)
    yield adapter
    await adapter.aclose()


stream_modes = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


@stream_modes
async def test_text_reply(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    got = await outcome(provider, stream, chat_request(stream=stream))
    assert got.text == REPLY
    assert got.finish == "stop"
    assert got.tool_calls == []
    assert got.usage is not None
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (PROMPT_WORDS, REPLY_WORDS)
    assert (got.usage.cached_tokens, got.usage.cache_write_tokens) == (0, 0)


@stream_modes
async def test_cache_usage(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    fake.set_script(Script(cache_read_tokens=40, cache_write_tokens=8))
    got = await outcome(provider, stream, chat_request(stream=stream))
    assert got.usage is not None
    assert got.usage.prompt_tokens == PROMPT_WORDS + 48  # prompt includes cached and written
    assert (got.usage.cached_tokens, got.usage.cache_write_tokens) == (40, 8)


@stream_modes
async def test_length_finish(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    fake.set_script(Script(finish="length"))
    got = await outcome(provider, stream, chat_request(stream=stream))
    assert got.finish == "length"


@stream_modes
async def test_tool_call(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    request = chat_request(stream=stream, tools=[WEATHER_TOOL])
    got = await outcome(provider, stream, request)
    assert got.finish == "tool_calls"
    assert got.text == ""
    (call,) = got.tool_calls
    assert call["type"] == "function"
    assert call["id"]
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"], str)
    assert arguments(call) == {"city": "Paris"}


@stream_modes
async def test_missing_usage(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    fake.set_script(Script(usage=False))
    got = await outcome(provider, stream, chat_request(stream=stream))
    assert got.text == REPLY
    assert got.usage is None


async def test_stream_ends_with_usage_chunk(fake: FakeUpstream, provider: Provider) -> None:
    chunks: list[Chunk] = []
    await outcome(provider, True, chat_request(stream=True), into=chunks)
    assert chunks[-1].usage == Usage(prompt_tokens=PROMPT_WORDS, completion_tokens=REPLY_WORDS)
    assert chunks[-1].delta is None


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (Script(status=401), UpstreamAuthError),
        (Script(status=429, retry_after=3), UpstreamRateLimited),
        (Script(status=500), UpstreamServerError),
        (Script(status=400), UpstreamBadRequest),
        (Script(cut_after=0), UpstreamConnectError),
    ],
    ids=["401", "429", "500", "400", "dropped"],
)
@stream_modes
async def test_errors(
    fake: FakeUpstream, provider: Provider, script: Script, error: type[Exception], stream: bool
) -> None:
    fake.set_script(script)
    with pytest.raises(error) as caught:
        await outcome(provider, stream, chat_request(stream=stream))
    assert API_KEY not in str(caught.value)
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 3


@stream_modes
async def test_hang_times_out(fake: FakeUpstream, provider: Provider, stream: bool) -> None:
    fake.set_script(Script(hang=True))
    with pytest.raises(UpstreamTimeout):
        await outcome(provider, stream, chat_request(stream=stream), timeout=0.2)


async def test_cut_mid_stream(fake: FakeUpstream, provider: Provider) -> None:
    fake.set_script(Script(chunks=4, cut_after=2))
    chunks: list[Chunk] = []
    with pytest.raises(UpstreamConnectError):
        await outcome(provider, True, chat_request(stream=True), into=chunks)
    assert text_of(chunks) == "Hello from the "  # two of four deltas


async def test_error_event_mid_stream(
    fake: FakeUpstream, provider: Provider, request: pytest.FixtureRequest
) -> None:
    fake.set_script(Script(chunks=4, stream_error_after=1))
    chunks: list[Chunk] = []
    # Each protocol names the failure its own way; what is common is an UpstreamError
    # raised from the iterator after the deltas that did arrive.
    with pytest.raises(UpstreamError):
        await outcome(provider, True, chat_request(stream=True), into=chunks)
    assert text_of(chunks) == "Hello fr"  # the first of four deltas


async def test_one_shot_queue_then_default(fake: FakeUpstream, provider: Provider) -> None:
    fake.push(Script(status=500), Script(status=429))
    with pytest.raises(UpstreamServerError):
        await outcome(provider, False)
    with pytest.raises(UpstreamRateLimited):
        await outcome(provider, False)
    assert (await outcome(provider, False)).text == REPLY
    assert len(fake.requests) == 3
