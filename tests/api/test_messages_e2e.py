"""End to end: the official anthropic SDK -> `/v1/messages` -> fake upstreams of both
protocols. Every raw stream is also checked against Anthropic's event grammar."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from _grammar import check_anthropic, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

USER: list[Any] = [{"role": "user", "content": "say hello to the world"}]
BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
UPSTREAMS = ["fakeoa/fake-model", "antx/fake-claude"]


def ant(gw: Any, key: str = "sk-ant-unused") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base_url, api_key=key, max_retries=0, timeout=20)


def raw_stream(gw: Any, body: dict[str, Any], **headers: str) -> list[Any]:
    status, head, raw = http_raw(
        "POST",
        gw.base_url + "/v1/messages",
        {**body, "stream": True},
        {"anthropic-version": "2023-06-01", **headers},
    )
    assert status == 200, raw
    assert head["content-type"].startswith("text/event-stream")
    return parse_sse(raw)


def generation(gw: Any, gen_id: str, key: str | None = None) -> dict[str, Any]:
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}", token=key)
    assert status == 200, body
    return dict(body["data"])


@pytest.fixture
def gw(fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake, "antx": fake2})


@pytest.mark.parametrize("model", UPSTREAMS)
def test_create_text_usage_cost_and_ledger(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str
) -> None:
    for f in (fake, fake2):
        f.set_script(Script(text="Hello there friend", cache_read_tokens=2))
    msg = ant(gw).messages.create(model=model, max_tokens=64, messages=USER)
    assert msg.type == "message" and msg.role == "assistant"
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "Hello there friend"  # type: ignore[union-attr]
    assert msg.stop_reason == "end_turn" and msg.model == model
    assert msg.usage.output_tokens == 3 and msg.usage.cache_read_input_tokens == 2
    gen = generation(gw, msg.id)
    assert gen["tokens_completion"] == 3 and gen["total_cost"] > 0
    assert (msg.usage.model_extra or {})["cost"] == pytest.approx(gen["total_cost"])
    assert gen["door"] == "messages"


@pytest.mark.parametrize("model", UPSTREAMS)
def test_stream_text(gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str) -> None:
    for f in (fake, fake2):
        f.set_script(Script(text="one two three four", chunks=4))
    with ant(gw).messages.stream(model=model, max_tokens=64, messages=USER) as stream:
        events = list(stream)
        final = stream.get_final_message()
    pieces = [e.text for e in events if e.type == "text"]
    assert "".join(pieces) == "one two three four" and len(pieces) == 4
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 4
    # The cost rides on message_delta's usage; the SDK rebuilds get_final_message().usage
    # from the fields it knows, so it cannot carry it (the README says so).
    (delta,) = [e for e in events if e.type == "message_delta"]
    cost = (delta.usage.model_extra or {})["cost"]
    message = check_anthropic(raw_stream(gw, {"model": model, "max_tokens": 64, "messages": USER}))
    assert message["content"] == [{"type": "text", "text": "one two three four"}]
    gen = generation(gw, final.id)
    assert gen["streamed"] is True and gen["door"] == "messages"
    assert cost == pytest.approx(gen["total_cost"]) and cost > 0


@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(
    gw: Any, fake: FakeUpstream, fake2: FakeUpstream, model: str, stream: bool
) -> None:
    script = Script(
        tool_name="Bash",
        tool_arguments='{"command": "echo tokenport-42"}',
        after_tool_result="The command printed {result}.",
    )
    for f in (fake, fake2):
        f.set_script(script)
    client = ant(gw)
    tools: Any = [BASH]

    def ask(messages: list[Any]) -> anthropic.types.Message:
        if not stream:
            return client.messages.create(
                model=model, max_tokens=256, messages=messages, tools=tools
            )
        with client.messages.stream(
            model=model, max_tokens=256, messages=messages, tools=tools
        ) as s:
            return s.get_final_message()

    first = ask(USER)
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.type == "tool_use" and call.name == "Bash"
    assert call.input == {"command": "echo tokenport-42"}
    history = [
        *USER,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "tokenport-42"}],
        },
    ]
    second = ask(history)
    assert second.stop_reason == "end_turn"
    assert second.content[-1].text == "The command printed tokenport-42."  # type: ignore[union-attr]
    sent = (fake if model.startswith("fakeoa") else fake2).last_request.body
    if model.startswith("fakeoa"):  # translated: a tool message answers the call by id
        assert sent["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call.id,
            "content": "tokenport-42",
        }
        assert sent["messages"][-2]["tool_calls"][0]["function"]["name"] == "Bash"
        assert sent["tools"][0]["function"]["parameters"] == BASH["input_schema"]
    else:  # native: the blocks as the client sent them
        assert sent["messages"][-1]["content"][0]["type"] == "tool_result"
        assert sent["tools"][0]["input_schema"] == BASH["input_schema"]


def test_thinking_signature_survives_turns_at_anthropic(gw: Any, fake2: FakeUpstream) -> None:
    fake2.set_script(Script(text="done", reasoning="let me think", signature="SIG-abc"))
    client = ant(gw)
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    first = client.messages.create(
        model="antx/fake-claude", max_tokens=4096, messages=USER, thinking=thinking
    )
    block = first.content[0]
    assert block.type == "thinking" and block.thinking == "let me think"
    assert block.signature == "SIG-abc"
    assert fake2.last_request.body["thinking"] == thinking
    with client.messages.stream(
        model="antx/fake-claude", max_tokens=4096, messages=USER, thinking=thinking
    ) as s:
        streamed = s.get_final_message()
    assert streamed.content[0].type == "thinking"
    assert streamed.content[0].signature == "SIG-abc"
    again: Any = [
        *USER,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": "and again"},
    ]
    client.messages.create(
        model="antx/fake-claude", max_tokens=4096, thinking=thinking, messages=again
    )
    sent = fake2.last_request.body["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": "let me think", "signature": "SIG-abc"}


def test_reasoning_of_an_openai_upstream_becomes_thinking(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="the answer", reasoning="step one step two"))
    client = ant(gw)
    msg = client.messages.create(model="fakeoa/fake-model", max_tokens=64, messages=USER)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "step one step two"  # type: ignore[union-attr]
    events = raw_stream(gw, {"model": "fakeoa/fake-model", "max_tokens": 64, "messages": USER})
    message = check_anthropic(events)
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["thinking"] == "step one step two"
    # Sent back next turn, it reaches the OpenAI upstream as reasoning_content (Kimi and
    # DeepSeek require it on tool-call turns).
    more: Any = [
        *USER,
        {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
        {"role": "user", "content": "more"},
    ]
    client.messages.create(model="fakeoa/fake-model", max_tokens=64, messages=more)
    assistant = fake.last_request.body["messages"][1]
    assert assistant["reasoning_content"] == "step one step two"
    assert assistant["content"] == "the answer"
    assert "thinking" not in assistant


@pytest.mark.parametrize("interleave", [False, True])
def test_parallel_tool_calls_keep_block_order(
    gw: Any, fake: FakeUpstream, interleave: bool
) -> None:
    fake.set_script(
        Script(
            reasoning="plan",
            tool_name="Bash",
            tool_arguments='{"command": "ls -la /tmp"}',
            parallel_calls=3,
            interleave_calls=interleave,
            chunks=4,
        )
    )
    body = {"model": "fakeoa/fake-model", "max_tokens": 64, "messages": USER, "tools": [BASH]}
    message = check_anthropic(raw_stream(gw, body))
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["thinking", "tool_use", "tool_use", "tool_use"]
    assert [b["input"] for b in message["content"][1:]] == [{"command": "ls -la /tmp"}] * 3
    assert len({b["id"] for b in message["content"][1:]}) == 3
    assert message["stop_reason"] == "tool_use"


def test_system_blocks_cache_control_and_betas_reach_anthropic_natively(
    gw: Any, fake2: FakeUpstream
) -> None:
    system = [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Project rules.", "cache_control": {"type": "ephemeral"}},
    ]
    status, _, raw = http_raw(
        "POST",
        gw.base_url + "/v1/messages?beta=true",
        {
            "model": "antx/fake-claude",
            "max_tokens": 100,
            "system": system,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "hi",
                            "cache_control": {"type": "ephemeral"},
                        }
                    ],
                }
            ],
            "metadata": {"user_id": "user_abc"},
            "context_management": {"edits": []},
            "temperature": 1,
            "top_k": 5,
        },
        {
            "x-api-key": "sk-ant-whatever",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "interleaved-thinking-2025-05-14,context-management-2025-06-27",
        },
    )
    assert status == 200, raw
    sent = fake2.last_request
    assert sent.body["system"] == system
    assert sent.body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent.body["metadata"] == {"user_id": "user_abc"} and sent.body["top_k"] == 5
    assert sent.body["context_management"] == {"edits": []}
    assert "interleaved-thinking" in sent.headers["anthropic-beta"]


def test_anthropic_only_fields_never_reach_an_openai_upstream(gw: Any, fake: FakeUpstream) -> None:
    ant(gw).messages.create(
        model="fakeoa/fake-model",
        max_tokens=100,
        system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        messages=USER,
        metadata={"user_id": "u1"},
        extra_body={
            "top_k": 5,
            "context_management": {"edits": []},
            "output_config": {"effort": "low"},
        },
    )
    sent = fake.last_request.body
    for field in ("top_k", "context_management", "output_config", "metadata", "system"):
        assert field not in sent, field
    assert sent["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "sys"}]}
    assert sent["user"] == "u1" and sent["max_tokens"] == 100


def test_errors_in_anthropic_shape(gw: Any, fake: FakeUpstream) -> None:
    client = ant(gw)
    with pytest.raises(anthropic.NotFoundError) as nf:
        client.messages.create(model="no-such-model-xyz", max_tokens=10, messages=USER)
    assert nf.value.body["type"] == "error"  # type: ignore[index]
    assert nf.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    status, body = http_json("POST", gw.base_url + "/v1/messages", b"{not json")
    assert status == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    chat_body = {
        "model": "fakeoa/fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"},
    }
    status, body = http_json("POST", gw.base_url + "/v1/messages", chat_body)
    assert status == 400 and "/v1/chat/completions" in body["error"]["message"]
    fake.set_script(Script(status=500))  # every attempt (retries included) fails
    with pytest.raises(anthropic.APIStatusError) as up:
        client.messages.create(model="fakeoa/fake-model", max_tokens=10, messages=USER)
    assert up.value.status_code == 502
    assert up.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_error_mid_stream_is_an_error_event(gw: Any, fake: FakeUpstream) -> None:
    fake.set_script(Script(text="a b c d e f", chunks=6, stream_error_after=2))
    body = {"model": "fakeoa/fake-model", "max_tokens": 64, "messages": USER}
    message = check_anthropic(raw_stream(gw, body))
    assert message["error"]["type"] == "api_error"


def test_auth_by_x_api_key_and_aliases(
    fake: FakeUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    admin = "admin-secret-1234567890"
    gw = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": admin},
        require_keys=True,
        aliases={"claude-sonnet-*": "fakeoa/fake-model", "claude-haiku-4-5": "fakeoa/fake-model"},
    )
    status, created = http_json(
        "POST", gw.base_url + "/api/v1/keys", {"name": "cc", "limit": 1.0}, token=admin
    )
    assert status == 201, created
    secret = created["key"]
    with pytest.raises(anthropic.AuthenticationError) as denied:
        ant(gw).messages.create(model="claude-sonnet-5-1", max_tokens=10, messages=USER)
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    msg = ant(gw, key=secret).messages.create(
        model="claude-sonnet-5-1-20261001", max_tokens=10, messages=USER
    )
    assert msg.model == "fakeoa/fake-model"
    gen = generation(gw, msg.id, secret)
    assert gen["model_requested"] == "claude-sonnet-5-1-20261001"
    bearer = anthropic.Anthropic(
        base_url=gw.base_url, auth_token=secret, api_key=None, max_retries=0
    )
    assert bearer.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER).id


def test_root_probe_count_tokens_and_model_lookup(gw: Any) -> None:
    assert http_raw("HEAD", gw.base_url + "/")[0] == 200
    assert http_raw("GET", gw.base_url + "/")[0] == 200
    counted = ant(gw).messages.count_tokens(
        model="fakeoa/fake-model",
        messages=USER,
        tools=[BASH],  # type: ignore[list-item]
    )
    assert counted.input_tokens > 5
    status, body = http_json(
        "POST", gw.base_url + "/v1/messages/count_tokens", {"model": "x", "messages": "nope"}
    )
    assert status == 400 and body["type"] == "error"
    status, body = http_json("GET", gw.base_url + "/v1/models/fakeoa/fake-model")
    assert status == 200 and body["id"] == "fakeoa/fake-model"
    assert json.dumps(body)


def test_claude_code_shapes_reach_anthropic_as_sent(gw: Any, fake2: FakeUpstream) -> None:
    """`thinking.display` and mid-conversation system turns (Claude Code sends both) keep
    their place, so the prompt-cache prefix is the same from one turn to the next."""
    body = {
        "model": "antx/fake-claude",
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "<reminder>be brief</reminder>"},
            {"role": "user", "content": "again"},
        ],
    }
    status, _, raw = http_raw("POST", gw.base_url + "/v1/messages", body)
    assert status == 200, raw
    sent = fake2.last_request.body
    assert sent["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert sent["system"] == "You are Claude Code."
    assert [m["role"] for m in sent["messages"]] == ["user", "system", "user"]
    assert sent["messages"][1]["content"] == "<reminder>be brief</reminder>"
    enabled = {**body, "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}}
    enabled.pop("max_tokens")
    assert http_raw("POST", gw.base_url + "/v1/messages", enabled)[0] == 200
    sent = fake2.last_request.body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}
    assert sent["max_tokens"] > 2048  # room for the answer beside the budget
