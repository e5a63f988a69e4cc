"""Stream resume end to end (gateway/resume.py): an upstream stream cut mid-answer is
continued, and each door's client sees one whole answer that passes its API's event
grammar, with no text repeated or missing. The fake upstream continues a partial answer
the way the declared mechanism does (DeepSeek-style `prefix`, Anthropic prefill)."""

from __future__ import annotations

from typing import Any

import pytest

from _grammar import check_anthropic, check_chat, check_responses, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.lab.fake_script import split_text

TEXT = "The quick brown fox jumps over the lazy dog, twice."
REASONING = "The user wants a pangram; a fox and a dog will do."
ARGS = '{"city": "Paris", "unit": "celsius"}'
PREFIX = {"mode": "prefix", "reasoning": True, "tool_arguments": True}
TOOL = {
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
USER = [{"role": "user", "content": "write a pangram"}]

# (name, the script's cut, with reasoning, with a tool)
CUTS = {
    "first_byte": ({"cut_after": 1}, False, False),
    "mid_text": ({"cut_after": 3}, False, False),
    "mid_reasoning": ({"cut_in_reasoning": 2}, True, False),
    "mid_tool_arguments": ({"cut_after": 3}, False, True),
}


def script(reasoning: bool, tool: bool) -> Script:
    return Script(
        text=TEXT,
        chunks=6,
        reasoning=REASONING if reasoning else None,
        tool_calls=tool,
        tool_arguments=ARGS,
        tool_name="get_weather",
    )


def body(door: str, tool: bool) -> dict[str, Any]:
    model = "fakeoa/fake-model"
    if door == "chat":
        tools = [{"type": "function", "function": TOOL}] if tool else None
        extra = {"stream_options": {"include_usage": True}}
        return {"model": model, "messages": USER, "stream": True, **extra} | (
            {"tools": tools} if tools else {}
        )
    if door == "messages":
        tools = [{"name": TOOL["name"], "input_schema": TOOL["parameters"]}] if tool else None
        return {"model": model, "max_tokens": 256, "messages": USER, "stream": True} | (
            {"tools": tools} if tools else {}
        )
    tools = [{"type": "function", **TOOL}] if tool else None
    return {"model": model, "input": "write a pangram", "stream": True} | (
        {"tools": tools} if tools else {}
    )


PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}


def transcript(door: str, raw: bytes) -> dict[str, str]:
    """What the client got: text, reasoning and tool arguments, after the grammar checks."""
    events = parse_sse(raw)
    if door == "chat":
        got = check_chat(events, usage_chunk=True)
        assert "error" not in got, got
        reasoning = "".join(
            (c["choices"][0]["delta"].get("reasoning_content") or "")
            for _, c in events[:-1]
            if isinstance(c, dict) and c.get("choices")
        )
        args = "".join(c["arguments"] for c in got["calls"].values())
        return {"text": got["text"], "reasoning": reasoning, "args": args}
    if door == "messages":
        msg = check_anthropic(events)
        assert "error" not in msg, msg
        blocks = msg["content"]
        return {
            "text": "".join(b.get("text", "") for b in blocks if b["type"] == "text"),
            "reasoning": "".join(b["thinking"] for b in blocks if b["type"] == "thinking"),
            "args": "".join(_json(b["input"]) for b in blocks if b["type"] == "tool_use"),
        }
    final = check_responses(events)
    assert final["status"] == "completed", final
    out = final["output"]
    return {
        "text": "".join(p["text"] for i in out if i["type"] == "message" for p in i["content"]),
        "reasoning": "".join(
            p["text"] for i in out if i["type"] == "reasoning" for p in i.get("content") or ()
        )
        or "".join(
            p["text"] for i in out if i["type"] == "reasoning" for p in i.get("summary") or ()
        ),
        "args": "".join(i["arguments"] for i in out if i["type"] == "function_call"),
    }


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(", ", ": "))


def generation(gw: Any, gen_id: str) -> dict[str, Any]:
    status, got = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}")
    assert status == 200, got
    return dict(got["data"])


def gen_id(door: str, raw: bytes) -> str:
    first = next(d for _, d in parse_sse(raw) if isinstance(d, dict))
    if door == "messages":
        return str(first["message"]["id"])
    if door == "responses":
        return str(first["response"]["id"])
    return str(first["id"])


@pytest.fixture
def gw(fake: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake}, fakeoa_extra={"continuation": PREFIX})


@pytest.mark.parametrize("door", ["chat", "messages", "responses"])
@pytest.mark.parametrize("cut", list(CUTS))
def test_a_cut_stream_resumes_as_one_answer(
    gw: Any, fake: FakeUpstream, door: str, cut: str
) -> None:
    where, reasoning, tool = CUTS[cut]
    whole = script(reasoning, tool)
    fake.set_script(whole)
    fake.push(Script(**{**_fields(whole), **where}))
    status, _, raw = http_raw(
        "POST", gw.base_url + PATHS[door], body(door, tool), {"anthropic-version": "2023-06-01"}
    )
    assert status == 200, raw
    got = transcript(door, raw)
    if tool:
        assert got["args"].replace(" ", "") == ARGS.replace(" ", "")
        assert got["text"] == ""
    else:
        assert got["text"] == TEXT
    if reasoning:
        assert got["reasoning"] == REASONING
    sent = [r.body for r in fake.requests]
    assert len(sent) == 2
    last = sent[1]["messages"][-1]
    if cut == "first_byte" and not tool:  # a text delta was sent: continued from it
        assert last["role"] == "assistant" and last["prefix"] is True
    record = generation(gw, gen_id(door, raw))
    assert record["resumed"] is True and record["status"] == "ok"
    kinds = [(a["status"], a.get("kind")) for a in record["attempts"]]
    assert kinds == [("error", None), ("ok", "resume")]
    costs = [a["cost"] for a in record["attempts"]]
    assert costs[0] > 0 and record["total_cost"] == pytest.approx(sum(costs))


def _fields(s: Script) -> dict[str, Any]:
    return {f: getattr(s, f) for f in s.__struct_fields__}


def test_a_prefill_upstream_resumes_text_without_doubling_whitespace(
    fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"antx": fake2}, antx_extra={"continuation": {"mode": "prefill"}})
    pieces = split_text(TEXT, 6)
    k = next(i + 1 for i, p in enumerate(pieces) if p.endswith(" "))  # a cut after a space
    whole = Script(text=TEXT, chunks=6)
    fake2.set_script(whole)
    fake2.push(Script(text=TEXT, chunks=6, cut_after=k))
    request = {"model": "antx/fake-claude", "messages": USER, "stream": True}
    status, _, raw = http_raw("POST", gw.base_url + PATHS["chat"], request)
    assert status == 200, raw
    assert check_chat(parse_sse(raw), usage_chunk=False)["text"] == TEXT
    prefill = fake2.requests[1].body["messages"][-1]
    assert prefill["role"] == "assistant" and prefill["content"] == "".join(pieces[:k]).rstrip()


def test_a_route_that_cannot_continue_ends_with_the_doors_error(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake})  # no `continuation` declared
    fake.set_script(Script(text=TEXT, chunks=6))
    fake.push(Script(text=TEXT, chunks=6, cut_after=3))
    status, _, raw = http_raw("POST", gw.base_url + PATHS["chat"], body("chat", False))
    assert status == 200
    events = [d for _, d in parse_sse(raw)]
    assert events[-1] == "[DONE]" and "error" in events[-2]  # the chat door's error event
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in events[:-2])
    assert TEXT.startswith(text) and text != TEXT
    assert len(fake.requests) == 1


def test_nothing_sent_yet_is_retried_anywhere(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake})  # no `continuation` needed for an empty answer
    fake.set_script(Script(text=TEXT, chunks=6))
    fake.push(Script(text=TEXT, chunks=6, cut_after=0))
    status, _, raw = http_raw("POST", gw.base_url + PATHS["chat"], body("chat", False))
    assert status == 200
    assert check_chat(parse_sse(raw), usage_chunk=True)["text"] == TEXT
    assert "prefix" not in fake.requests[1].body["messages"][-1]


def test_a_continuation_no_route_can_start_ends_with_the_cuts_error(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake},
        fakeoa_extra={"continuation": PREFIX},
        resilience={"max_attempts": 2, "backoff_base_s": 0.001},
    )
    fake.set_script(Script(status=500))
    fake.push(Script(text=TEXT, chunks=6, cut_after=3))
    status, _, raw = http_raw("POST", gw.base_url + PATHS["chat"], body("chat", False))
    assert status == 200
    events = [d for _, d in parse_sse(raw)]
    assert events[-1] == "[DONE]" and "error" in events[-2]
    assert len(fake.requests) == 3  # the cut stream, then two continuation attempts
