"""End to end: the official `google-genai` SDK -> the Gemini door (`/v1beta/models/...`) ->
fake upstreams of both protocols (an OpenAI-shaped one, an Anthropic-shaped one). Every raw
stream is also checked against the Gemini stream grammar, in both framings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from _grammar import check_gemini, parse_gemini_array, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

UPSTREAMS = ["fakeoa/fake-model", "antx/fake-claude"]
ADMIN = "admin-secret-for-the-gemini-tests"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)


class City(BaseModel):
    name: str
    population: int


# Each client is kept open for the test's whole run: a collected genai.Client closes the
# connection its `models` still use.
CLIENTS: list[genai.Client] = []


def client(gw: Any, key: str = "unused", version: str | None = None) -> genai.Client:
    """The SDK as a user points it at tokenport: 3.x calls /v1/..., Gemini CLI /v1beta/."""
    options = types.HttpOptions(base_url=gw.base_url, timeout=20_000, api_version=version)
    c = genai.Client(api_key=key, http_options=options)
    CLIENTS.append(c)
    return c


def upstream_of(model: str, fake: FakeUpstream, fake2: FakeUpstream) -> FakeUpstream:
    return fake if model.startswith("fakeoa") else fake2


def last_body(upstream: FakeUpstream) -> dict[str, Any]:
    return dict([r for r in upstream.requests if r.method == "POST"][-1].body)


def generation(gw: Any, gen_id: str, token: str | None = None) -> dict[str, Any]:
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}", token=token)
    assert status == 200, body
    return dict(body["data"])


def raw_stream(gw: Any, model: str, body: dict[str, Any], sse: bool) -> tuple[str, list[Any]]:
    query = "?alt=sse" if sse else ""
    url = f"{gw.base_url}/v1beta/models/{model}:streamGenerateContent{query}"
    status, head, raw = http_raw("POST", url, body)
    assert status == 200, raw
    if sse:
        assert head["content-type"].startswith("text/event-stream")
        return head["content-type"], parse_sse(raw)
    assert head["content-type"].startswith("application/json")
    return head["content-type"], parse_gemini_array(raw)


@pytest.fixture
def gw(fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake, "antx": fake2})


@pytest.mark.parametrize("version", [None, "v1beta"])
@pytest.mark.parametrize("model", UPSTREAMS)
def test_generate_text_usage_cost_and_ledger(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str, version: str | None
) -> None:
    upstream_of(model, fake, fake2).set_script(Script(text="Hello there friend"))
    config = types.GenerateContentConfig(
        system_instruction="Be brief.", temperature=0.5, max_output_tokens=64
    )
    resp = client(gw, version=version).models.generate_content(
        model=model, contents="say hello", config=config
    )
    assert resp.text == "Hello there friend"
    assert resp.candidates and resp.candidates[0].finish_reason == types.FinishReason.STOP
    usage = resp.usage_metadata
    assert usage is not None and usage.candidates_token_count == 3
    assert usage.total_token_count == (usage.prompt_token_count or 0) + 3
    assert resp.response_id and resp.model_version == model
    gen = generation(gw, resp.response_id)
    assert gen["door"] == "gemini" and gen["tokens_completion"] == 3 and gen["total_cost"] > 0
    sent = last_body(upstream_of(model, fake, fake2))
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.5
    system = sent["system"] if model.startswith("antx") else sent["messages"][0]
    assert "Be brief." in json.dumps(system)
    raw = json.loads(
        http_raw("POST", f"{gw.base_url}/v1beta/models/{model}:generateContent", BODY)[2]
    )
    assert raw["usageMetadata"]["cost"] == pytest.approx(
        generation(gw, raw["responseId"])["total_cost"]
    )


BODY = {"contents": [{"role": "user", "parts": [{"text": "say hello to the world"}]}]}


@pytest.mark.parametrize("model", UPSTREAMS)
def test_stream_sdk_and_both_framings_obey_the_grammar(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str
) -> None:
    upstream_of(model, fake, fake2).set_script(Script(text="one two three four", chunks=4))
    pieces = [
        c.text
        for c in client(gw).models.generate_content_stream(model=model, contents="count to four")
    ]
    assert "".join(p or "" for p in pieces) == "one two three four"
    assert len([p for p in pieces if p]) >= 2, pieces
    for sse in (True, False):
        _, events = raw_stream(gw, model, BODY, sse)
        got = check_gemini(events)
        assert got["text"] == "one two three four" and got["finish"] == "STOP"
        assert got["usage"]["cost"] > 0
        assert generation(gw, events[-1][1]["responseId"])["door"] == "gemini"


@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str, stream: bool
) -> None:
    upstream = upstream_of(model, fake, fake2)
    upstream.set_script(Script(after_tool_result="It is {result}."))
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    c = client(gw)
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text="Paris weather?")])]
    if stream:
        chunks = list(
            c.models.generate_content_stream(model=model, contents=contents, config=config)
        )
        calls = [fc for ch in chunks for fc in ch.function_calls or ()]
    else:
        whole = c.models.generate_content(model=model, contents=contents, config=config)
        calls = whole.function_calls or []
    assert [(fc.name, fc.args) for fc in calls] == [("get_weather", {"city": "Paris"})]
    call = calls[0]
    first = last_body(upstream)
    if model.startswith("fakeoa"):
        assert first["tools"][0]["function"]["parameters"]["properties"] == {
            "city": {"type": "string"}
        }
    else:
        assert first["tools"][0]["input_schema"]["required"] == ["city"]

    contents += [
        types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(
            role="user",
            parts=[
                types.Part.from_function_response(name="get_weather", response={"output": "sunny"})
            ],
        ),
    ]
    answer = c.models.generate_content(model=model, contents=contents, config=config)
    assert answer.text == "It is sunny."
    second = last_body(upstream)
    if model.startswith("fakeoa"):
        assistant, result = second["messages"][-2:]
        assert result == {
            "role": "tool",
            "tool_call_id": assistant["tool_calls"][0]["id"],
            "content": "sunny",
            "name": "get_weather",
        }
    else:
        assistant, result = second["messages"][-2:]
        use = next(b for b in assistant["content"] if b["type"] == "tool_use")
        assert result["content"][0]["tool_use_id"] == use["id"]


def test_json_schema_reaches_the_upstream_as_response_format(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text='{"name": "Paris", "population": 2100000}'))
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=City
    )
    resp = client(gw).models.generate_content(
        model="fakeoa/fake-model", contents="A city, as JSON", config=config
    )
    assert resp.parsed == City(name="Paris", population=2100000)
    fmt = last_body(fake)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"]["population"]["type"] == "integer"


@pytest.mark.parametrize(
    ("model", "budget", "want"),
    [
        ("antx/fake-claude", 2048, {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ("antx/fake-claude", 0, {"thinking": {"type": "disabled"}}),
        ("fakeoa/fake-model", 20000, {"reasoning_effort": "high"}),
    ],
)
def test_thinking_budget_becomes_each_providers_switch(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str, budget: int, want: Any
) -> None:
    upstream = upstream_of(model, fake, fake2)
    upstream.set_script(Script(text="done", reasoning="thinking hard"))
    config = types.GenerateContentConfig(
        max_output_tokens=4096,
        thinking_config=types.ThinkingConfig(thinking_budget=budget, include_thoughts=True),
    )
    resp = client(gw).models.generate_content(model=model, contents="think", config=config)
    sent = last_body(upstream)
    for key, value in want.items():
        assert sent[key] == value
    parts = resp.candidates[0].content.parts  # type: ignore[index, union-attr]
    thoughts = [p.text for p in parts or () if p.thought]
    assert thoughts == (["thinking hard"] if budget else thoughts)
    assert resp.text == "done"


def test_count_tokens(gw: Any) -> None:
    c = client(gw)
    short = c.models.count_tokens(model="fakeoa/fake-model", contents="hi")
    longer = c.models.count_tokens(
        model="fakeoa/fake-model", contents="hi " * 200 + "and a much longer prompt"
    )
    assert short.total_tokens and longer.total_tokens
    assert longer.total_tokens > short.total_tokens + 100


@pytest.mark.parametrize("version", [None, "v1beta"])
def test_models_list_and_get(gw: Any, version: str | None) -> None:
    c = client(gw, version=version)
    names = [m.name for m in c.models.list(config={"page_size": 5})]
    assert "models/fakeoa/fake-model" in names or "models/tokenport/fake-model" in names, names
    one = c.models.get(model="fakeoa/fake-model")
    assert one.name and one.input_token_limit == 8192
    # The same path without Google's headers stays OpenAI's list.
    status, body = http_json("GET", gw.base_url + "/v1/models")
    assert status == 200 and body["object"] == "list" and "models" not in body


def test_errors_in_googles_shape(gw: Any, fake: FakeUpstream) -> None:
    c = client(gw)
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model="nobody/no-such-model", contents="hi")
    assert (err.value.code, err.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(
            model="fakeoa/fake-model",
            contents="hi",
            config=types.GenerateContentConfig(temperature=7),
        )
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    assert "temperature" in (err.value.message or "")
    url = f"{gw.base_url}/v1beta/models/fakeoa/fake-model"
    for path in (url + ":embedContent", url):
        status, _, raw = http_raw("POST", path, BODY)
        assert status == 404 and json.loads(raw)["error"]["status"] == "NOT_FOUND"
        assert "generateContent" in json.loads(raw)["error"]["message"]
    status, _, raw = http_raw("POST", url + ":generateContent", b"{not json")
    assert status == 400 and json.loads(raw)["error"]["status"] == "INVALID_ARGUMENT"
    fake.set_script(Script(status=503))
    with pytest.raises(errors.ServerError) as server:
        c.models.generate_content(model="fakeoa/fake-model", contents="hi")
    assert server.value.code in (502, 503)


def test_error_mid_stream_is_a_google_error_frame(gw: Any, fake2: FakeUpstream) -> None:
    fake2.set_script(Script(text="one two three four", chunks=4, stream_error_after=2))
    for sse in (True, False):
        _, events = raw_stream(gw, "antx/fake-claude", BODY, sse)
        got = check_gemini(events)
        assert got["error"]["status"] in ("UNAVAILABLE", "INTERNAL"), got
        assert got["text"]
    # The SDK raises on the error frame, after the text that came before it.
    seen: list[str] = []

    def read() -> None:
        stream = client(gw).models.generate_content_stream(
            model="antx/fake-claude", contents="count"
        )
        seen.extend(chunk.text or "" for chunk in stream)

    with pytest.raises(errors.ServerError) as err:
        read()
    assert err.value.status == "UNAVAILABLE" and "".join(seen)


def test_keys_as_google_sends_them(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake, "antx": fake2}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True
    )
    status, body = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "g"}, token=ADMIN)
    assert status == 201, body
    secret = str(body["key"])
    with pytest.raises(errors.ClientError) as err:
        client(gw, "tp-wrong").models.generate_content(model="fakeoa/fake-model", contents="hi")
    assert (err.value.code, err.value.status) == (401, "UNAUTHENTICATED")
    resp = client(gw, secret).models.generate_content(model="fakeoa/fake-model", contents="hi")
    # A key sees only its own generations: found with this key, the request was made on it.
    assert resp.response_id and generation(gw, resp.response_id, secret)["door"] == "gemini"
    url = f"{gw.base_url}/v1beta/models/fakeoa/fake-model:generateContent?key={secret}"
    status, _, raw = http_raw("POST", url, BODY)
    assert status == 200, raw
    assert generation(gw, json.loads(raw)["responseId"], secret)["door"] == "gemini"
    status, _, raw = http_raw("GET", f"{gw.base_url}/v1beta/models?key=tp-nope")
    assert status == 401 and json.loads(raw)["error"]["status"] == "UNAUTHENTICATED"
