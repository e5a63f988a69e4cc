"""End to end: the official openai SDK's Responses API -> `/v1/responses` -> fake upstreams
of both protocols; raw streams checked against the Responses event rules."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from _grammar import check_responses, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

UPSTREAMS = ["fakeoa/fake-model", "antx/fake-claude"]
SHELL = {
    "type": "function",
    "name": "exec_command",
    "description": "Run a shell command",
    "parameters": {
        "type": "object",
        "properties": {"cmd": {"type": "string"}},
        "required": ["cmd"],
    },
}
AGENT = Script(
    tool_name="exec_command",
    tool_arguments='{"cmd": "echo tokenport-42"}',
    after_tool_result="It printed {result}.",
)


@pytest.fixture
def gw(fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake, "antx": fake2})


def client(gw: Any, key: str = "sk-unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=20)


def raw_stream(gw: Any, body: dict[str, Any]) -> list[Any]:
    status, head, raw = http_raw("POST", gw.base_url + "/v1/responses", {**body, "stream": True})
    assert status == 200, raw
    assert head["content-type"].startswith("text/event-stream")
    return parse_sse(raw)


def both(fake: FakeUpstream, fake2: FakeUpstream, script: Script) -> None:
    fake.set_script(script)
    fake2.set_script(script)


@pytest.mark.parametrize("model", UPSTREAMS)
def test_create_text(gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str) -> None:
    both(fake, fake2, Script(text="Paris is the capital", cache_read_tokens=1))
    resp = client(gw).responses.create(
        model=model, instructions="Be brief.", input="What is the capital of France?"
    )
    assert resp.output_text == "Paris is the capital"
    assert resp.status == "completed" and resp.model == model
    assert resp.usage is not None and resp.usage.output_tokens == 4
    assert resp.usage.input_tokens_details.cached_tokens == 1
    status, gen = http_json("GET", f"{gw.base_url}/api/v1/generation?id={resp.id}")
    assert status == 200 and gen["data"]["door"] == "responses"
    assert (resp.usage.model_extra or {})["cost"] == pytest.approx(gen["data"]["total_cost"])
    sent = (fake if model.startswith("fakeoa") else fake2).last_request.body
    if model.startswith("fakeoa"):
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert sent["system"] == "Be brief."


@pytest.mark.parametrize("model", UPSTREAMS)
def test_stream_events(gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str) -> None:
    both(fake, fake2, Script(text="one two three", chunks=3, reasoning="hmm"))
    with client(gw).responses.stream(model=model, input="count") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "one two three"
    assert final.output_text == "one two three"
    assert [o.type for o in final.output] == ["reasoning", "message"]
    done = check_responses(raw_stream(gw, {"model": model, "input": "count"}))
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == "hmm"


@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str, stream: bool
) -> None:
    both(fake, fake2, AGENT)
    c = client(gw)
    tools: Any = [SHELL, {"type": "web_search"}]  # Codex offers web_search on every request

    def ask(items: list[Any]) -> Any:
        if not stream:
            return c.responses.create(model=model, input=items, tools=tools, store=False)
        with c.responses.stream(model=model, input=items, tools=tools, store=False) as s:
            return s.get_final_response()

    items: list[Any] = [{"role": "user", "content": "Run echo tokenport-42"}]
    first = ask(items)
    call = first.output[-1]
    assert call.type == "function_call" and call.name == "exec_command"
    assert json.loads(call.arguments) == {"cmd": "echo tokenport-42"}
    items += [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "tokenport-42"},
    ]
    second = ask(items)
    assert second.output_text == "It printed tokenport-42."
    upstream = fake if model.startswith("fakeoa") else fake2
    sent = upstream.last_request.body
    if model.startswith("fakeoa"):
        assert sent["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "tokenport-42",
        }
        assert [t["function"]["name"] for t in sent["tools"]] == ["exec_command"]
    else:
        assert sent["messages"][-1]["content"][0]["type"] == "tool_result"


def test_dropped_builtin_tool_header_and_forced_builtin_is_400(gw: Any, fake: FakeUpstream) -> None:
    body = {"model": "fakeoa/fake-model", "input": "hi", "tools": [SHELL, {"type": "web_search"}]}
    status, head, _ = http_raw("POST", gw.base_url + "/v1/responses", body)
    assert status == 200 and head["x-tokenport-dropped-tools"] == "web_search"
    with pytest.raises(openai.BadRequestError) as err:
        client(gw).responses.create(
            model="fakeoa/fake-model",
            input="search the web",
            tools=[{"type": "web_search"}],
            tool_choice={"type": "web_search"},  # type: ignore[typeddict-item]
        )
    assert "web_search" in str(err.value)


def test_store_previous_response_id_and_retrieve(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="first answer"))
    c = client(gw)
    first = c.responses.create(model="fakeoa/fake-model", input="remember the word tangerine")
    fake.set_script(Script(text="tangerine"))
    second = c.responses.create(
        model="fakeoa/fake-model",
        input="what was the word?",
        previous_response_id=first.id,
        instructions="new instructions",
    )
    sent = fake.last_request.body["messages"]
    assert sent == [
        {"role": "system", "content": "new instructions"},
        {"role": "user", "content": "remember the word tangerine"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "what was the word?"},
    ]
    again = c.responses.retrieve(second.id)
    assert again.id == second.id and again.output_text == "tangerine"
    assert again.previous_response_id == first.id
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve("gen-01NOSUCHRESPONSE000000000")
    not_stored = c.responses.create(model="fakeoa/fake-model", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(not_stored.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="fakeoa/fake-model", input="x", previous_response_id=not_stored.id)
    c.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(second.id)


def test_stored_responses_are_scoped_to_their_key(fake: FakeUpstream, gateway_factory: Any) -> None:
    admin = "admin-secret-abcdefghij"
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": admin})
    keys = []
    for name in ("alice", "bob"):
        status, made = http_json("POST", gw.base_url + "/api/v1/keys", {"name": name}, token=admin)
        assert status == 201, made
        keys.append(made["key"])
    alice, bob = client(gw, keys[0]), client(gw, keys[1])
    mine = alice.responses.create(model="fakeoa/fake-model", input="secret plans")
    assert alice.responses.retrieve(mine.id).id == mine.id
    for other in (bob, client(gw)):  # another key, and no key at all
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.create(
                model="fakeoa/fake-model", input="go on", previous_response_id=mine.id
            )


def test_structured_output_reasoning_and_max_tokens_map_to_chat(
    gw: Any, fake: FakeUpstream
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    client(gw).responses.create(
        model="fakeoa/fake-model",
        input="json please",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema}},
        reasoning={"effort": "high"},
        max_output_tokens=77,
        temperature=0.5,
        extra_body={"prompt_cache_key": "abc", "include": ["reasoning.encrypted_content"]},
    )
    sent = fake.last_request.body
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema},
    }
    assert sent["reasoning_effort"] == "high" and sent["max_tokens"] == 77
    assert sent["temperature"] == 0.5
    assert "prompt_cache_key" not in sent and "include" not in sent


def test_length_is_incomplete(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="cut short", finish="length"))
    resp = client(gw).responses.create(model="fakeoa/fake-model", input="long essay")
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None
    assert resp.incomplete_details.reason == "max_output_tokens"
    done = check_responses(raw_stream(gw, {"model": "fakeoa/fake-model", "input": "x"}))
    assert done["status"] == "incomplete"


def test_stream_error_is_response_failed(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="a b c d e f", chunks=6, stream_error_after=2))
    done = check_responses(raw_stream(gw, {"model": "fakeoa/fake-model", "input": "x"}))
    assert done["status"] == "failed" and done["error"]["message"]


def test_bad_input_is_400_in_openai_shape(gw: Any) -> None:
    url = gw.base_url + "/v1/responses"
    for body, needle in [
        (b"[1, 2", "not valid JSON"),
        ({"model": "fakeoa/fake-model"}, "`input` is required"),
        ({"model": "fakeoa/fake-model", "input": [{"type": "teleport"}]}, "teleport"),
        ({"model": "fakeoa/fake-model", "input": "x", "background": True}, "ackground"),
        (
            {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "x"}]},
            "/v1/chat/completions",
        ),
        ({"model": "fakeoa/fake-model", "input": "x", "max_output_tokens": 2**63}, "max_output"),
    ]:
        status, err = http_json("POST", url, body)
        assert status == 400, (body, err)
        assert needle in err["error"]["message"], (needle, err)


def test_anthropic_signed_thinking_survives_through_encrypted_content(
    gw: Any, fake2: FakeUpstream
) -> None:
    fake2.set_script(
        Script(
            reasoning="think first",
            signature="SIG-xyz",
            tool_name="exec_command",
            tool_arguments='{"cmd": "ls"}',
            after_tool_result="done: {result}",
        )
    )
    c = client(gw)
    for stream in (False, True):
        items: list[Any] = [{"role": "user", "content": "list files"}]
        kwargs: Any = {
            "model": "antx/fake-claude",
            "tools": [SHELL],
            "reasoning": {"effort": "high"},
            "store": False,
            "include": ["reasoning.encrypted_content"],
        }
        if stream:
            with c.responses.stream(input=items, **kwargs) as s:
                first = s.get_final_response()
        else:
            first = c.responses.create(input=items, **kwargs)
        reasoning, call = first.output[0], first.output[-1]
        assert reasoning.type == "reasoning" and reasoning.encrypted_content
        assert call.type == "function_call"
        items += [
            reasoning.model_dump(exclude_none=True),
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "a.txt"},
        ]
        assert c.responses.create(input=items, **kwargs).output_text == "done: a.txt"
        sent = fake2.last_request.body
        assert sent["thinking"]["type"] == "enabled"
        assert sent["max_tokens"] > sent["thinking"]["budget_tokens"]
        assistant = sent["messages"][1]["content"]
        assert assistant[0] == {
            "type": "thinking",
            "thinking": "think first",
            "signature": "SIG-xyz",
        }
        assert assistant[1]["type"] == "tool_use"


def test_developer_turns_become_system_for_upstreams_without_the_role(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake},
        fakeob_extra={"capabilities": {"developer_role": True}},
    )
    items = [
        {"type": "message", "role": "developer", "content": "You are Codex."},
        {"role": "user", "content": "hi"},
    ]
    client(gw).responses.create(model="fakeoa/fake-model", input=items)
    assert fake.last_request.body["messages"][0] == {"role": "system", "content": "You are Codex."}
    client(gw).responses.create(model="fakeob/fake-model", input=items)
    assert fake.last_request.body["messages"][0]["role"] == "developer"
