"""The rest of the OpenAI surface clients call (embeddings, legacy completions, one model),
and the Chat Completions fidelity fixes, through the official openai SDK."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from _grammar import check_chat, check_completions, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

MESSAGES: list[Any] = [{"role": "user", "content": "say hello to the world"}]
CHAT_MODEL = {
    "id": "fake-model",
    "slug": "fake-model",
    "input_price": 1.0,
    "output_price": 2.0,
    "context_length": 8192,
}
EMBED_MODEL = {"id": "fake-embed", "kind": "embedding", "input_price": 0.5, "output_price": 0.0}


@pytest.fixture
def gw(fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory(
        {"fakeoa": fake, "antx": fake2}, fakeoa_extra={"models": [CHAT_MODEL, EMBED_MODEL]}
    )


def client(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key="sk-x", max_retries=0, timeout=20)


def generation(gw: Any, gen_id: str) -> dict[str, Any]:
    time.sleep(0.05)
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}")
    assert status == 200, body
    return dict(body["data"])


# -- embeddings ---------------------------------------------------------------------------


def test_embeddings_routed_priced_and_recorded(gw: Any, fake: FakeUpstream) -> None:
    resp = client(gw).embeddings.create(
        model="fakeoa/fake-embed", input=["the quick brown fox", "jumps"], dimensions=8
    )
    assert [d.index for d in resp.data] == [0, 1] and len(resp.data[0].embedding) == 8
    assert resp.usage.prompt_tokens == 5 and resp.model == "fakeoa/fake-embed"
    sent = fake.last_request
    assert sent.path == "/v1/embeddings" and sent.body["model"] == "fake-embed"
    assert sent.body["dimensions"] == 8
    raw = json.loads(
        http_raw(
            "POST",
            gw.base_url + "/v1/embeddings",
            {
                "model": "fake-embed",
                "input": "one two three",
            },
        )[2]
    )
    assert raw["usage"]["cost"] == pytest.approx(3 * 0.5 / 1e6)
    gen = generation(gw, raw["id"])
    assert gen["door"] == "embeddings" and gen["tokens_prompt"] == 3
    assert gen["total_cost"] == pytest.approx(3 * 0.5 / 1e6)


def test_embeddings_errors(gw: Any, fake: FakeUpstream) -> None:
    c = client(gw)
    with pytest.raises(openai.NotFoundError):
        c.embeddings.create(model="fakeoa/fake-model", input="chat models do not embed")
    with pytest.raises(openai.BadRequestError):
        c.embeddings.create(model="fakeoa/fake-embed", input=[])
    fake.push(*[Script(status=500)] * 5)  # the first attempt and its 4 retries
    with pytest.raises(openai.APIStatusError) as err:
        c.embeddings.create(model="fakeoa/fake-embed", input="x")
    assert err.value.status_code == 502


# -- legacy completions --------------------------------------------------------------------


def test_completions_as_one_chat_turn(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="Paris"))
    c = client(gw)
    resp = c.completions.create(model="fakeoa/fake-model", prompt="The capital of France is")
    assert resp.object == "text_completion" and resp.choices[0].text == "Paris"
    assert resp.usage is not None and resp.usage.completion_tokens == 1
    sent = fake.last_request.body
    assert sent["messages"] == [{"role": "user", "content": "The capital of France is"}]
    assert sent["max_tokens"] == 16  # the legacy endpoint's default
    echoed = c.completions.create(model="fakeoa/fake-model", prompt="Q: ", echo=True, logprobs=2)
    assert echoed.choices[0].text == "Q: Paris"
    lp = echoed.choices[0].logprobs
    assert lp is not None and lp.tokens == ["Paris"] and lp.token_logprobs == [-0.25]
    assert generation(gw, resp.id)["door"] == "completions"
    fake.set_script(Script(text="a b c", chunks=3))
    pieces = [
        ch.choices[0].text
        for ch in c.completions.create(model="fakeoa/fake-model", prompt="go", stream=True)
        if ch.choices
    ]
    assert "".join(pieces) == "a b c"
    for include in (False, True):
        body = {
            "model": "fakeoa/fake-model",
            "prompt": "go",
            "stream": True,
            "stream_options": {"include_usage": include},
        }
        status, _, raw = http_raw("POST", gw.base_url + "/v1/completions", body)
        assert status == 200 and check_completions(parse_sse(raw), usage_chunk=include) == "a b c"
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="fakeoa/fake-model", prompt="x", suffix="y")
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="fakeoa/fake-model", prompt=["a", "b"])


# -- models -------------------------------------------------------------------------------


def test_models_retrieve_and_created(gw: Any) -> None:
    c = client(gw)
    model = c.models.retrieve("fakeoa/fake-model")
    assert model.id == "fakeoa/fake-model" and isinstance(model.created, int)
    listed = c.models.list()
    known = [m for m in listed.data if m.created]
    assert all(isinstance(m.created, int) for m in listed.data) and known
    assert c.models.retrieve("deepseek/deepseek-chat").created > 1_600_000_000
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("no-such-model-anywhere")


# -- chat fidelity ------------------------------------------------------------------------


def test_logprobs_come_back_in_both_modes(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="hi there", chunks=2))
    c = client(gw)
    resp = c.chat.completions.create(
        model="fakeoa/fake-model", messages=MESSAGES, logprobs=True, top_logprobs=1
    )
    lp = resp.choices[0].logprobs
    assert lp is not None and lp.content is not None
    assert [t.token for t in lp.content] == ["hi", "there"]
    assert fake.last_request.body["top_logprobs"] == 1
    chunks = list(
        c.chat.completions.create(
            model="fakeoa/fake-model", messages=MESSAGES, logprobs=True, stream=True
        )
    )
    tokens = [
        t.token
        for ch in chunks
        if ch.choices and ch.choices[0].logprobs and ch.choices[0].logprobs.content
        for t in ch.choices[0].logprobs.content
    ]
    assert "".join(tokens) == "hi there"


def test_openrouter_only_fields_are_consumed(gw: Any, fake: FakeUpstream) -> None:
    body = {
        "model": "fakeoa/fake-model",
        "messages": MESSAGES,
        "usage": {"include": True},
        "transforms": ["middle-out"],
        "route": "fallback",
        "stream": True,
    }
    status, _, raw = http_raw("POST", gw.base_url + "/v1/chat/completions", body)
    assert status == 200
    for field in ("usage", "transforms", "route"):
        assert field not in fake.last_request.body, field
    # OpenRouter's usage.include asks for the usage chunk, as stream_options would
    result = check_chat(parse_sse(raw), usage_chunk=True)
    assert result["usage"]["cost"] > 0


def test_content_is_null_beside_tool_calls(gw: Any, fake: FakeUpstream) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = {"model": "fakeoa/fake-model", "messages": MESSAGES, "tools": tools}
    status, _, raw = http_raw("POST", gw.base_url + "/v1/chat/completions", body)
    message = json.loads(raw)["choices"][0]["message"]
    assert status == 200 and "content" in message and message["content"] is None
    assert message["tool_calls"][0]["function"]["name"] == "f"


def test_argumentless_tool_call_from_anthropic_streams_empty_object(
    gw: Any, fake2: FakeUpstream
) -> None:
    fake2.set_script(Script(tool_name="now", tool_arguments="{}", chunks=1))
    tools = [{"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}]
    body = {"model": "antx/fake-claude", "messages": MESSAGES, "tools": tools, "stream": True}
    status, _, raw = http_raw("POST", gw.base_url + "/v1/chat/completions", body)
    assert status == 200
    result = check_chat(parse_sse(raw), usage_chunk=False)
    assert result["calls"][0]["arguments"] == "{}" and result["finish"] == "tool_calls"


def test_every_chat_stream_keeps_the_grammar(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream
) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    for upstream, model in ((fake, "fakeoa/fake-model"), (fake2, "antx/fake-claude")):
        for script in (
            Script(text="plain words here", chunks=3),
            Script(reasoning="think", text="answer"),
            Script(tool_name="f", parallel_calls=2, interleave_calls=True, chunks=3),
        ):
            upstream.set_script(script)
            body = {"model": model, "messages": MESSAGES, "tools": tools, "stream": True}
            for include in (False, True):
                body["stream_options"] = {"include_usage": include}
                status, _, raw = http_raw("POST", gw.base_url + "/v1/chat/completions", body)
                assert status == 200, raw
                check_chat(parse_sse(raw), usage_chunk=include)
