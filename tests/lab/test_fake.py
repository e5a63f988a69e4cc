"""The fake upstream speaks the real wire formats (proved with the official SDKs) and its
scripted behaviours do what they say."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tokenport.lab.fake import FakeUpstream, Script

pytestmark = pytest.mark.timeout(15)

OPENAI_BODY: dict[str, Any] = {
    "model": "fake-model",
    "messages": [{"role": "user", "content": "hello there"}],
}
ANTHROPIC_BODY: dict[str, Any] = {**OPENAI_BODY, "max_tokens": 100}
USER: Any = {"role": "user", "content": "hello there"}
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture(scope="module")
def threaded() -> Iterator[FakeUpstream]:
    with FakeUpstream.start_in_thread() as fake:
        yield fake


@pytest.fixture
def fake_sync(threaded: FakeUpstream) -> FakeUpstream:
    threaded.reset()
    return threaded


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def oai(fake: FakeUpstream, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url + "/v1", api_key="sk-test", max_retries=0, **kwargs)


def ant(fake: FakeUpstream, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=fake.base_url, api_key="sk-ant-test", max_retries=0, **kwargs
    )


# -- the OpenAI wire, through the openai SDK ----------------------------------------------


def test_openai_sdk_non_stream(fake_sync: FakeUpstream) -> None:
    fake_sync.set_script(Script(cost=0.0042, cache_read_tokens=3))
    resp = oai(fake_sync).chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "hello there"}]
    )
    assert resp.choices[0].message.content == "Hello from the fake upstream."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "m1"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (5, 5)
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 3
    assert resp.usage.model_extra == {"cost": 0.0042}
    assert fake_sync.last_request.headers["authorization"] == "Bearer sk-test"


def test_openai_sdk_stream_with_and_without_usage(fake_sync: FakeUpstream) -> None:
    client = oai(fake_sync)
    fake_sync.set_script(Script(chunks=4))
    messages: Any = [{"role": "user", "content": "hi"}]
    chunks = list(
        client.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake upstream."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 6
    plain = list(client.chat.completions.create(model="m", messages=messages, stream=True))
    assert all(c.usage is None for c in plain)
    assert plain[-1].choices[0].finish_reason == "stop"


def test_openai_sdk_tool_call(fake_sync: FakeUpstream) -> None:
    client = oai(fake_sync)
    messages = [{"role": "user", "content": "weather?"}]
    resp = client.chat.completions.create(model="m", messages=messages, tools=[TOOL])
    call = resp.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"city": "Paris"}
    assert resp.choices[0].finish_reason == "tool_calls"
    stream = client.chat.completions.create(model="m", messages=messages, tools=[TOOL], stream=True)
    args = "".join(
        tc.function.arguments or ""
        for c in stream
        for tc in (c.choices[0].delta.tool_calls or [] if c.choices else [])
        if tc.function is not None
    )
    assert orjson.loads(args) == {"city": "Paris"}
    none = client.chat.completions.create(
        model="m", messages=messages, tools=[TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None


def test_openai_sdk_errors(fake_sync: FakeUpstream) -> None:
    client = oai(fake_sync)
    messages: Any = [{"role": "user", "content": "hi"}]
    fake_sync.push(Script(status=429, retry_after=3), Script(status=401), Script(status=500))
    with pytest.raises(openai.RateLimitError) as rate:
        client.chat.completions.create(model="m", messages=messages)
    assert rate.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.AuthenticationError, match="sk-test"):  # the fake echoes the key
        client.chat.completions.create(model="m", messages=messages)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=messages)
    assert client.chat.completions.create(model="m", messages=messages).choices  # queue drained


def test_openai_sdk_hang_times_out(fake_sync: FakeUpstream) -> None:
    fake_sync.push(Script(hang=True))
    with pytest.raises(openai.APITimeoutError):
        oai(fake_sync, timeout=0.3).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )


def test_models_list_reads_in_both_sdks(fake_sync: FakeUpstream) -> None:
    assert [m.id for m in oai(fake_sync).models.list()] == ["fake-model", "fake-claude"]
    assert [m.id for m in ant(fake_sync).models.list()] == ["fake-model", "fake-claude"]


# -- the Anthropic wire, through the anthropic SDK ----------------------------------------


def test_anthropic_sdk_non_stream_with_cache_usage(fake_sync: FakeUpstream) -> None:
    fake_sync.set_script(Script(cache_read_tokens=7, cache_write_tokens=2))
    msg = ant(fake_sync).messages.create(
        model="claude-x",
        max_tokens=50,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Hello from the fake upstream."
    assert msg.stop_reason == "end_turn"
    assert msg.model == "claude-x"
    usage = msg.usage
    assert (usage.input_tokens, usage.output_tokens) == (4, 5)  # "Be brief." + "hello there"
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (7, 2)
    headers = fake_sync.last_request.headers
    # SDK versions differ: x-api-key, or a bearer token; either way the fake records it.
    assert "sk-ant-test" in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert "anthropic-version" in headers


def test_anthropic_sdk_stream_event_sequence(fake_sync: FakeUpstream) -> None:
    fake_sync.set_script(Script(chunks=3, finish="length"))
    client = ant(fake_sync)
    with client.messages.stream(
        model="c", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "content_block_stop" in kinds
    assert final.content[0].type == "text"
    assert final.content[0].text == "Hello from the fake upstream."
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 5


def test_anthropic_sdk_stream_tool_use(fake_sync: FakeUpstream) -> None:
    fake_sync.set_script(Script(tool_arguments='{"city": "Oslo", "days": 3}', chunks=5))
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]
    with ant(fake_sync).messages.stream(
        model="c",
        max_tokens=50,
        tools=tools,
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"city": "Oslo", "days": 3}
    assert final.stop_reason == "tool_use"


def test_anthropic_sdk_errors(fake_sync: FakeUpstream) -> None:
    client = ant(fake_sync)
    kwargs = {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    fake_sync.push(Script(status=429, retry_after=1), Script(status=401), Script(status=529))
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(**kwargs)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(**kwargs)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(**kwargs)
    assert overloaded.value.status_code == 529
    fake_sync.push(Script(stream_error_after=1))
    with pytest.raises(anthropic.APIStatusError, match="overloaded"):  # noqa: SIM117
        with client.messages.stream(**kwargs) as stream:
            stream.get_final_message()


def test_anthropic_thinking_rule(fake_sync: FakeUpstream) -> None:
    """With thinking on, a tool-calling assistant turn sent back without its signed thinking
    block is refused, as Anthropic refuses it; with it, or with thinking off, it is served."""
    fake_sync.set_script(Script(thinking_rule=True, tool_calls=False))
    use = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}
    signed = {"type": "thinking", "thinking": "hm", "signature": "c2ln"}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}
    thinking = {"type": "enabled", "budget_tokens": 1024}

    def ask(blocks: list[Any], **extra: Any) -> Any:
        history = [*ANTHROPIC_BODY["messages"], {"role": "assistant", "content": blocks}, result]
        return ant(fake_sync).messages.create(model="c", max_tokens=2048, messages=history, **extra)

    with pytest.raises(anthropic.BadRequestError, match=r"messages\.1\.content\.0\.type"):
        ask([use], thinking=thinking)
    with pytest.raises(anthropic.BadRequestError, match="signature: Field required"):
        ask([{**signed, "signature": ""}, use], thinking=thinking)
    assert ask([signed, use], thinking=thinking)
    assert ask([use])
    assert ask([use], thinking={"type": "disabled"})


def test_strict_roles(fake_sync: FakeUpstream) -> None:
    fake_sync.set_script(Script(roles=("system", "user", "assistant", "tool")))
    client = oai(fake_sync)
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.role: unknown variant"):
        client.chat.completions.create(
            model="m", messages=[{"role": "developer", "content": "be brief"}, USER]
        )
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "system", "content": "be brief"}, USER]
    )
    assert reply.choices[0].message.content


# -- scripted behaviours, through a bare aiohttp client ------------------------------------


async def test_queue_of_one_shot_scripts(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    fake.push(Script(status=500), Script(status=429, retry_after=2))
    statuses = []
    for _ in range(3):
        async with http.post(fake.base_url + "/v1/chat/completions", json=OPENAI_BODY) as resp:
            statuses.append((resp.status, resp.headers.get("Retry-After")))
    assert statuses == [(500, None), (429, "2"), (200, None)]
    assert len(fake.requests) == 3


async def test_latency_and_chunk_interval(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    fake.set_script(Script(latency_ms=100, chunks=3, chunk_interval_ms=50))
    started = time.perf_counter()
    async with http.post(
        fake.base_url + "/v1/messages", json={**ANTHROPIC_BODY, "stream": True}
    ) as resp:
        headers_at = time.perf_counter() - started
        await resp.read()
    total = time.perf_counter() - started
    assert 0.09 <= headers_at < 0.5
    assert total >= 0.19  # latency + two intervals


async def test_hang_needs_a_client_timeout(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    fake.set_script(Script(hang=True))
    with pytest.raises(asyncio.TimeoutError):
        await http.post(
            fake.base_url + "/v1/messages",
            json=ANTHROPIC_BODY,
            timeout=aiohttp.ClientTimeout(total=0.2),
        )


@pytest.mark.parametrize(
    ("path", "body"), [("/v1/chat/completions", OPENAI_BODY), ("/v1/messages", ANTHROPIC_BODY)]
)
async def test_cut_mid_stream(
    fake: FakeUpstream, http: aiohttp.ClientSession, path: str, body: dict[str, object]
) -> None:
    fake.set_script(Script(chunks=4, cut_after=2))
    received = bytearray()

    async def read_all() -> None:
        async with http.post(fake.base_url + path, json={**body, "stream": True}) as resp:
            assert resp.status == 200
            async for piece in resp.content.iter_any():
                received.extend(piece)

    with pytest.raises(aiohttp.ClientPayloadError):
        await read_all()
    assert received.count(b"Hello") == 1
    assert b"upstream." not in received  # the last delta never came
    with pytest.raises(aiohttp.ServerDisconnectedError):  # non-stream: dropped at once
        await http.post(fake.base_url + path, json=body)


async def test_missing_usage(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    fake.set_script(Script(usage=False))
    streamed = {**OPENAI_BODY, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post(fake.base_url + "/v1/chat/completions", json=streamed) as resp:
        assert b"usage" not in await resp.read()
    async with http.post(fake.base_url + "/v1/messages", json=ANTHROPIC_BODY) as resp:
        assert "usage" not in await resp.json()


async def test_records_requests(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    body = {**OPENAI_BODY, "top_k": 5, "provider_specific": {"x": 1}}
    await http.post(
        fake.base_url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k1"}
    )
    seen = fake.last_request
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.body == body
    assert orjson.loads(seen.raw) == body
    assert seen.headers["authorization"] == "Bearer k1"


async def test_health_and_bad_json(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    async with http.get(fake.base_url + "/health") as resp:
        assert await resp.json() == {"status": "ok"}
    async with http.post(fake.base_url + "/v1/messages", data=b"{not json") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["type"] == "invalid_request_error"


async def test_many_requests_quickly(fake: FakeUpstream, http: aiohttp.ClientSession) -> None:
    async def one() -> int:
        async with http.post(fake.base_url + "/v1/chat/completions", json=OPENAI_BODY) as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(one() for _ in range(300)))
    assert set(statuses) == {200}


def test_command_line_entry() -> None:
    argv = [sys.executable, "-m", "tokenport.lab.fake", "--port", "0", "--stream-chunks", "4"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
            assert base_url.startswith("http://127.0.0.1:")
            with openai.OpenAI(base_url=base_url + "/v1", api_key="x", max_retries=0) as client:
                stream = client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                deltas = [c.choices[0].delta.content for c in stream if c.choices]
            assert deltas == ["", "token ", "token ", "token ", "token", None]
        finally:
            proc.terminate()
