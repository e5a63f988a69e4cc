"""Event-order rules of each door's stream, checked on the raw bytes a client receives.

Each checker raises AssertionError naming the first rule a stream breaks, so a test can run
every stream it sees through the rules of its API.
"""

from __future__ import annotations

import json
from typing import Any

Event = tuple[str | None, Any]


def parse_sse(raw: bytes | str) -> list[Event]:
    """(event name or None, decoded data) per SSE event; `[DONE]` stays a string."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    out: list[Event] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            payload = "\n".join(data)
            out.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return out


_DELTAS = {
    "text": {"text_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "redacted_thinking": set(),
    "tool_use": {"input_json_delta"},
}


def check_anthropic(events: list[Event]) -> dict[str, Any]:
    """Anthropic Messages streaming rules. Returns the message the events build."""
    assert events, "empty stream"
    for name, data in events:
        assert isinstance(data, dict) and name == data.get("type"), f"event {name} vs {data}"
    kinds = [d["type"] for _, d in events]
    assert kinds[0] == "message_start", f"first event is {kinds[0]}"
    assert kinds.count("message_start") == 1, "message_start more than once"
    message = dict(events[0][1]["message"])
    message["content"] = []
    open_block: dict[str, Any] | None = None
    args: dict[int, str] = {}
    ended = False
    for _, e in events[1:]:
        kind = e["type"]
        assert not ended, f"{kind} after message_stop"
        if kind == "ping":
            continue
        if kind == "error":  # it may cut a block short: nothing else may follow
            assert e["error"]["type"] and e["error"]["message"]
            return message | {"error": e["error"]}
        if kind == "content_block_start":
            assert open_block is None, "a block started while another is open"
            assert e["index"] == len(message["content"]), (
                f"block index {e['index']}, expected {len(message['content'])}"
            )
            open_block = dict(e["content_block"])
            assert open_block["type"] in _DELTAS, f"unknown block type {open_block['type']}"
            message["content"].append(open_block)
            if open_block["type"] == "tool_use":
                assert open_block["id"] and open_block["name"], "tool_use without id or name"
                args[e["index"]] = ""
        elif kind == "content_block_delta":
            assert open_block is not None, "delta outside a block"
            assert e["index"] == len(message["content"]) - 1, "delta for a block not open"
            delta = e["delta"]
            assert delta["type"] in _DELTAS[open_block["type"]], (
                f"{delta['type']} inside a {open_block['type']} block"
            )
            if delta["type"] == "text_delta":
                open_block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                open_block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                open_block["signature"] = delta["signature"]
            else:
                args[e["index"]] += delta["partial_json"]
        elif kind == "content_block_stop":
            assert open_block is not None, "content_block_stop without an open block"
            assert e["index"] == len(message["content"]) - 1, "stop for a block not open"
            if open_block["type"] == "tool_use":
                text = args[e["index"]]
                open_block["input"] = json.loads(text) if text else open_block["input"]
                assert isinstance(open_block["input"], dict), "tool input is not an object"
            open_block = None
        elif kind == "message_delta":
            assert open_block is None, "message_delta while a block is open"
            assert "stop_reason" not in message or message["stop_reason"] is None, "two deltas"
            message["stop_reason"] = e["delta"]["stop_reason"]
            assert message["stop_reason"] in (
                "end_turn",
                "max_tokens",
                "stop_sequence",
                "tool_use",
                "pause_turn",
                "refusal",
            ), message["stop_reason"]
            message["usage"] = e["usage"]
            assert isinstance(e["usage"]["output_tokens"], int)
        elif kind == "message_stop":
            assert message.get("stop_reason"), "message_stop before message_delta"
            ended = True
        else:
            raise AssertionError(f"unknown event {kind}")
    assert ended, "stream did not end with message_stop"
    return message


def check_chat(events: list[Event], *, usage_chunk: bool) -> dict[str, Any]:
    """Chat Completions streaming rules. Returns the text, tool calls and usage."""
    assert events and events[-1][1] == "[DONE]", "stream must end with [DONE]"
    chunks = [d for _, d in events[:-1]]
    assert chunks, "no chunks"
    assert len({c["id"] for c in chunks}) == 1, "chunk ids differ"
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, Any]] = {}
    for i, c in enumerate(chunks):
        assert c["object"] == "chat.completion.chunk"
        if "error" in c:
            return {"error": c["error"], "text": text}
        if not c["choices"]:
            assert c.get("usage") is not None, "a chunk with no choices must carry usage"
            assert i == len(chunks) - 1, "the usage chunk must be last"
            usage = c["usage"]
            continue
        assert usage is None, "choices after the usage chunk"
        choice = c["choices"][0]
        delta = choice["delta"]
        assert "signature" not in delta, "an Anthropic signature leaked into a chat delta"
        text += delta.get("content") or ""
        for call in delta.get("tool_calls") or ():
            slot = calls.setdefault(call["index"], {"id": None, "name": "", "arguments": ""})
            slot["id"] = slot["id"] or call.get("id")
            fn = call.get("function") or {}
            slot["name"] += fn.get("name") or ""
            slot["arguments"] += fn.get("arguments") or ""
        if choice.get("finish_reason"):
            assert finish is None, "finish_reason twice"
            finish = choice["finish_reason"]
    assert finish is not None, "no finish_reason"
    assert (usage is not None) == usage_chunk, "usage chunk sent unasked, or missing"
    for call in calls.values():
        assert isinstance(json.loads(call["arguments"]), dict), "tool arguments not an object"
    return {"text": text, "calls": calls, "finish": finish, "usage": usage}


_ITEM_EVENTS = {
    "message": {
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    },
    "reasoning": {
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    },
    "function_call": {
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    },
    "custom_tool_call": {
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
    },
}
_ENDS = ("response.completed", "response.incomplete", "response.failed")


def check_responses(events: list[Event]) -> dict[str, Any]:
    """OpenAI Responses streaming rules. Returns the final response object."""
    assert events, "empty stream"
    for name, data in events:
        assert isinstance(data, dict) and name == data.get("type"), f"event {name} vs {data}"
    kinds = [d["type"] for _, d in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds[:2]
    seqs = [d["sequence_number"] for _, d in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "sequence numbers not consecutive"
    assert kinds[-1] in _ENDS, f"stream ends with {kinds[-1]}"
    assert sum(k in _ENDS for k in kinds) == 1, "more than one terminal event"
    done_items: list[dict[str, Any]] = []
    item: dict[str, Any] | None = None
    acc = ""
    for _, e in events[2:-1]:
        kind = e["type"]
        if kind == "response.output_item.added":
            assert item is None, "an item added while another is open"
            assert e["output_index"] == len(done_items), "output_index out of order"
            item, acc = dict(e["item"]), ""
            assert item["type"] in _ITEM_EVENTS, item["type"]
            continue
        assert item is not None, f"{kind} outside an item"
        assert e["output_index"] == len(done_items), f"{kind}: wrong output_index"
        if kind == "response.output_item.done":
            done = e["item"]
            assert done["id"] == item["id"] and done["type"] == item["type"]
            if done["type"] == "message":
                assert done["content"][0]["text"] == acc, "text deltas differ from the item"
            if done["type"] == "function_call":
                assert done["arguments"] == acc or (acc == "" and done["arguments"] == "{}")
                assert isinstance(json.loads(done["arguments"]), dict)
            done_items.append(done)
            item = None
            continue
        assert kind in _ITEM_EVENTS[item["type"]], f"{kind} inside a {item['type']} item"
        assert e["item_id"] == item["id"], f"{kind} for another item"
        if kind.endswith(".delta"):
            acc += e["delta"]
    assert item is None, "an item was never closed"
    final = dict(events[-1][1]["response"])
    if final["status"] != "failed":
        assert final["output"] == done_items, "final output differs from the items streamed"
        assert final["usage"]["output_tokens"] >= 0 and final["usage"]["total_tokens"] >= 0
    return final


def check_completions(events: list[Event], *, usage_chunk: bool) -> str:
    """Legacy Completions streaming rules. Returns the text."""
    assert events and events[-1][1] == "[DONE]", "stream must end with [DONE]"
    chunks = [d for _, d in events[:-1]]
    assert chunks and len({c["id"] for c in chunks}) == 1, "chunk ids differ"
    text, finishes, usage = "", 0, None
    for i, c in enumerate(chunks):
        assert c["object"] == "text_completion", c
        if not c["choices"]:
            assert c.get("usage") is not None and i == len(chunks) - 1, "usage chunk not last"
            usage = c["usage"]
            continue
        choice = c["choices"][0]
        text += choice["text"]
        finishes += choice["finish_reason"] is not None
    assert finishes == 1, "finish_reason must come exactly once"
    assert (usage is not None) == usage_chunk, "usage chunk sent unasked, or missing"
    return text


def parse_gemini_array(raw: bytes | str) -> list[Event]:
    """A Gemini stream without `alt=sse`: one JSON array, each element a frame."""
    frames = json.loads(raw)
    assert isinstance(frames, list), "the JSON-array stream must be one JSON array"
    return [(None, f) for f in frames]


def check_gemini(events: list[Event]) -> dict[str, Any]:
    """Gemini `streamGenerateContent` rules (either framing, via parse_sse or
    parse_gemini_array). Returns the text, thoughts, function calls, finish and usage, or
    the error that ended the stream."""
    assert events, "no frames"
    assert all(name is None for name, _ in events), "Gemini frames carry no event names"
    frames = [d for _, d in events]
    assert all(isinstance(f, dict) for f in frames), "every frame is a JSON object ([DONE]?)"
    text, thoughts, finish, usage = "", "", None, None
    calls: list[dict[str, Any]] = []
    ids = {f.get("responseId") for f in frames if "error" not in f}
    assert len(ids) <= 1, "frames of one stream carry different responseIds"
    for i, f in enumerate(frames):
        last = i == len(frames) - 1
        if "error" in f:
            assert last, "an error frame must end the stream"
            err = f["error"]
            assert isinstance(err["code"], int) and err["message"] and err["status"].isupper()
            return {"error": err, "text": text}
        assert finish is None, "a frame after the one with finishReason"
        for cand in f.get("candidates") or ():
            for part in (cand.get("content") or {}).get("parts") or ():
                if "functionCall" in part:
                    fc = part["functionCall"]
                    assert fc["name"] and isinstance(fc["args"], dict), "a call needs name, args"
                    calls.append(fc)
                elif part.get("thought"):
                    thoughts += part["text"]
                else:
                    assert "text" in part, f"unknown part {part}"
                    text += part["text"]
            if cand.get("finishReason"):
                finish = cand["finishReason"]
        if f.get("usageMetadata") is not None:
            usage = f["usageMetadata"]
    assert finish is not None, "no finishReason"
    assert usage is not None, "no usageMetadata"
    total = usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert usage["totalTokenCount"] == total + usage.get("thoughtsTokenCount", 0)
    return {"text": text, "thoughts": thoughts, "calls": calls, "finish": finish, "usage": usage}
