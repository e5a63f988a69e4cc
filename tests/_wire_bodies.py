"""Generated request bodies for the translators' round trips, and what each should come back
as (tests/wire/test_anthropic_upstream_out.py, tests/wire/test_openai_chat.py).

- Anthropic -> internal -> Anthropic (the native path) keeps the body, up to Anthropic's
  own equivalences (a string is one text block; turns of one role are one turn).
- Anthropic -> internal -> OpenAI -> internal -> Anthropic keeps everything both shapes
  can carry: turns, text, images, tool calls and results, system text, tools, tool choice,
  sampling, stop sequences, the output cap and the end user.
- OpenAI -> internal -> Anthropic -> internal -> OpenAI, the same from the other side.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tokenport.values import ProviderSpec
from tokenport.wire import anthropic_client_in, anthropic_upstream_out

SPEC = ProviderSpec(name="up", base_url="http://127.0.0.1:1/v1")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
scalars = st.one_of(st.integers(-100, 100), st.booleans(), text, st.none())
tool_input = st.dictionaries(names, scalars, max_size=3)
cache = st.sampled_from([None, {"type": "ephemeral"}])
image_source = st.one_of(
    st.builds(
        lambda d: {"type": "base64", "media_type": "image/png", "data": d},
        st.from_regex(r"[A-Za-z0-9+/]{4,20}", fullmatch=True),
    ),
    st.builds(lambda n: {"type": "url", "url": f"https://img.example/{n}.png"}, names),
)


def _block(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **{k: v for k, v in fields.items() if v is not None}}


@st.composite
def anthropic_body(draw: st.DrawFn, *, native: bool) -> dict[str, Any]:
    """A Messages body. `native` adds what only Anthropic carries (cache_control, signed
    thinking, is_error, top_k)."""
    messages: list[dict[str, Any]] = []
    pending: list[str] = []  # tool_use ids the next user turn answers
    for turn in range(draw(st.integers(1, 5))):
        if turn % 2 == 0:  # user
            blocks: list[dict[str, Any]] = [
                _block(
                    "tool_result",
                    tool_use_id=tid,
                    content=draw(text),
                    is_error=draw(st.sampled_from([None, True])) if native else None,
                )
                for tid in pending
            ]
            pending = []
            for _ in range(draw(st.integers(0 if blocks else 1, 2))):
                if draw(st.booleans()):
                    cc = draw(cache) if native else None
                    blocks.append(_block("text", text=draw(text), cache_control=cc))
                else:
                    blocks.append(_block("image", source=draw(image_source)))
            messages.append({"role": "user", "content": blocks})
        else:  # assistant
            blocks = []
            if native and draw(st.booleans()):
                blocks.append(_block("thinking", thinking=draw(text), signature=draw(names)))
            if draw(st.booleans()):
                blocks.append(_block("text", text=draw(text)))
            for i in range(draw(st.integers(0 if blocks else 1, 2))):
                tid = f"toolu_{turn}_{i}"
                pending.append(tid)
                blocks.append(_block("tool_use", id=tid, name=draw(names), input=draw(tool_input)))
            messages.append({"role": "assistant", "content": blocks})
    if messages[-1]["role"] == "assistant" and pending:
        messages.append(
            {
                "role": "user",
                "content": [_block("tool_result", tool_use_id=t, content="ok") for t in pending],
            }
        )
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": draw(st.integers(1, 8192)),
        "messages": messages,
    }
    if draw(st.booleans()):
        body["system"] = draw(text)
    tools = draw(st.lists(names, max_size=3, unique=True))
    if tools:
        body["tools"] = [
            {
                "name": n,
                "description": f"tool {n}",
                "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}},
            }
            for n in tools
        ]
        choice = draw(st.sampled_from(["auto", "any", "tool", "none", None]))
        if choice == "tool":
            body["tool_choice"] = {"type": "tool", "name": tools[0]}
        elif choice is not None:
            body["tool_choice"] = {"type": choice}
    for field, strategy in (
        ("temperature", st.floats(0, 1, allow_nan=False)),
        ("top_p", st.floats(0, 1, allow_nan=False)),
        ("stop_sequences", st.lists(names, min_size=1, max_size=3)),
    ):
        if draw(st.booleans()):
            body[field] = draw(strategy)
    if draw(st.booleans()):
        body["metadata"] = {"user_id": draw(names)}
    if native and draw(st.booleans()):
        body["top_k"] = draw(st.integers(1, 50))
    return body


def anthropic_normal(body: dict[str, Any], *, cross: bool) -> dict[str, Any]:
    """Anthropic's equivalences applied: content as blocks, one turn per role run, tool
    results first in their turn. `cross` also removes what OpenAI cannot carry."""
    out = json.loads(json.dumps(body))
    turns: list[dict[str, Any]] = []
    for m in out["messages"]:
        blocks = (
            m["content"]
            if isinstance(m["content"], list)
            else [{"type": "text", "text": m["content"]}]
        )
        if cross:
            blocks = [
                {k: v for k, v in b.items() if k not in ("cache_control", "is_error")}
                for b in blocks
                if b["type"] != "thinking"
            ]
            for b in blocks:  # a tool result's content comes back as text blocks or a string
                if b["type"] == "tool_result" and isinstance(b.get("content"), str):
                    b["content"] = b["content"]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == m["role"]:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": m["role"], "content": blocks})
    for t in turns:
        t["content"].sort(key=lambda b: b["type"] != "tool_result")
    out["messages"] = turns
    if cross:
        out.pop("top_k", None)
    return dict(out)


def to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    request = anthropic_client_in.parse_messages_request(json.dumps(body).encode())
    return dict(
        orjson.loads(anthropic_upstream_out.messages_upstream_body("up", request, "m", False, []))
    )


def blocks_of(body: dict[str, Any]) -> dict[str, Any]:
    """A body with every string content made a text block (Anthropic's equivalence)."""
    out = dict(body)
    out["messages"] = [
        {
            "role": m["role"],
            "content": m["content"]
            if isinstance(m["content"], list)
            else [{"type": "text", "text": m["content"]}],
        }
        for m in body["messages"]
    ]
    return out


@st.composite
def openai_body(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text)})
    for turn in range(draw(st.integers(1, 5))):
        if turn % 2 == 0:
            if draw(st.booleans()):
                content: Any = draw(text)
            else:
                content = [{"type": "text", "text": draw(text)}]
                if draw(st.booleans()):
                    url = f"https://img.example/{draw(names)}.png"
                    content.append({"type": "image_url", "image_url": {"url": url}})
            messages.append({"role": "user", "content": content})
        else:
            calls = [
                {
                    "id": f"call_{turn}_{i}",
                    "type": "function",
                    "function": {
                        "name": draw(names),
                        "arguments": json.dumps(draw(tool_input)),
                    },
                }
                for i in range(draw(st.integers(0, 2)))
            ]
            message: dict[str, Any] = {"role": "assistant", "content": draw(text)}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
            messages += [
                {"role": "tool", "tool_call_id": c["id"], "content": draw(text)} for c in calls
            ]
            if calls:
                messages.append({"role": "user", "content": draw(text)})
    body: dict[str, Any] = {"model": "m", "messages": messages}
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(1, 8192))
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 1, allow_nan=False))
    if draw(st.booleans()):
        body["stop"] = draw(st.lists(names, min_size=1, max_size=4))
    if draw(st.booleans()):
        body["user"] = draw(names)
    return body


def _parts(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def openai_normal(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's side of the equivalences: system turns first, one user turn per run of
    user turns (Anthropic merges them), a lone text part as a string."""
    out = json.loads(json.dumps(body))
    system = [m for m in out["messages"] if m["role"] == "system"]
    rest: list[dict[str, Any]] = []
    for m in out["messages"]:
        if m["role"] == "system":
            continue
        if rest and m["role"] == "user" == rest[-1]["role"]:
            rest[-1]["content"] = _parts(rest[-1]["content"]) + _parts(m["content"])
        else:
            rest.append(m)
    out["messages"] = system + rest
    for m in out["messages"]:
        if isinstance(m.get("content"), list) and len(m["content"]) == 1:
            m["content"] = m["content"][0]["text"]
    out.setdefault("max_tokens", anthropic_upstream_out.DEFAULT_MAX_TOKENS)
    return canon_arguments(out)


def canon_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """Tool-call arguments as the JSON values they are (whitespace is not content)."""
    for m in body["messages"]:
        for call in m.get("tool_calls") or ():
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return body
