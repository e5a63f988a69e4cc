"""A Gemini-protocol upstream through the gateway: from the Gemini door natively (Google's
own fields and thought signatures pass through), and from the Chat Completions door
(translated, the signature riding on the tool call as Google's OpenAI endpoint carries it).
The fake upstream holds clients to Gemini 3's rule: a function-calling turn comes back with
the signature Gemini gave it, or it answers 400."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai
from google.genai import types

from _grammar import check_gemini, parse_sse
from _helpers import http_raw
from tokenport.lab.fake import FakeUpstream, Script

MODEL = "gemx/fake-model"
SIGNATURE = Script().signature
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CLIENTS: list[genai.Client] = []


@pytest.fixture
def gw(fake: FakeUpstream, gateway_factory: Any) -> Any:
    native = {"protocol": "gemini", "base_url": fake.base_url + "/v1beta"}
    return gateway_factory({"gemx": fake}, gemx_extra=native)


def client(gw: Any) -> genai.Client:
    options = types.HttpOptions(base_url=gw.base_url, timeout=20_000)
    c = genai.Client(api_key="unused", http_options=options)
    CLIENTS.append(c)
    return c


def posts(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [dict(r.body) for r in fake.requests if r.method == "POST"]


def test_gemini_fields_pass_through_natively(gw: Any, fake: FakeUpstream) -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    body = {
        "contents": [{"role": "user", "parts": [{"text": "search the web"}]}],
        "tools": [{"googleSearch": {}}],
        "safetySettings": safety,
        "generationConfig": {"temperature": 0.2, "thinkingConfig": {"thinkingBudget": 512}},
    }
    url = f"{gw.base_url}/v1beta/models/{MODEL}:generateContent"
    status, head, raw = http_raw("POST", url, body)
    assert status == 200, raw
    assert head["x-tokenport-dropped-tools"] == "googleSearch"
    sent = posts(fake)[-1]
    assert sent["safetySettings"] == safety and sent["tools"] == [{"googleSearch": {}}]
    assert sent["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 512
    assert json.loads(raw)["candidates"][0]["content"]["parts"] == [
        {"text": "Hello from the fake upstream."}
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_function_round_trip_keeps_geminis_signature(
    gw: Any, fake: FakeUpstream, stream: bool
) -> None:
    fake.set_script(Script(thinking_rule=True, after_tool_result="It is {result}."))
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(**WEATHER)])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    c = client(gw)
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text="Paris?")])]
    if stream:
        chunks = list(
            c.models.generate_content_stream(model=MODEL, contents=contents, config=config)
        )
        parts = [p for ch in chunks for p in ch.candidates[0].content.parts or ()]  # type: ignore[index, union-attr]
    else:
        resp = c.models.generate_content(model=MODEL, contents=contents, config=config)
        parts = list(resp.candidates[0].content.parts or ())  # type: ignore[index, union-attr]
    calls = [p for p in parts if p.function_call is not None]
    assert len(calls) == 1 and calls[0].function_call.args == {"city": "Paris"}  # type: ignore[union-attr]
    contents += [
        types.Content(role="model", parts=calls),
        types.Content(
            role="user",
            parts=[
                types.Part.from_function_response(name="get_weather", response={"output": "hot"})
            ],
        ),
    ]
    answer = c.models.generate_content(model=MODEL, contents=contents, config=config)
    assert answer.text == "It is hot."  # the fake refuses a call sent back unsigned
    model_turn = posts(fake)[-1]["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == SIGNATURE


def test_native_stream_obeys_the_grammar(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="one two three four", chunks=4, reasoning="mull it over"))
    body = {
        "contents": [{"role": "user", "parts": [{"text": "count"}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    }
    url = f"{gw.base_url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    status, _, raw = http_raw("POST", url, body)
    assert status == 200, raw
    got = check_gemini(parse_sse(raw))
    assert (got["text"], got["thoughts"]) == ("one two three four", "mull it over")
    assert got["usage"]["thoughtsTokenCount"] == 3 and got["usage"]["cost"] > 0


def test_chat_door_round_trip_keeps_the_signature(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(thinking_rule=True, after_tool_result="It is {result}."))
    oa = gw.client()
    tools: Any = [{"type": "function", "function": WEATHER}]
    messages: list[Any] = [{"role": "user", "content": "Paris?"}]
    first = oa.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    call = first.choices[0].message
    assert call.tool_calls and call.tool_calls[0].function.name == "get_weather"
    messages += [
        call.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.tool_calls[0].id, "content": "hot"},
    ]
    answer = oa.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    assert answer.choices[0].message.content == "It is hot."
    assert posts(fake)[-1]["contents"][1]["parts"][0]["thoughtSignature"] == SIGNATURE
