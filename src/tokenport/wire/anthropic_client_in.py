"""Anthropic Messages request bodies from clients -> `ChatRequest` (the messages door).

The judgement calls both directions share are listed in `wire.anthropic_upstream_out`.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from tokenport.errors import BadRequest
from tokenport.values import JSON, ChatRequest, Message, Thinking, ThinkingConfig
from tokenport.wire.common import (
    check_range,
    check_tokens,
    convert,
    decode_object,
    wrong_door_error,
)


class MessagesBody(msgspec.Struct):
    """The fields of a Messages body the gateway reads; the rest pass through in `extra`."""

    model: str
    messages: list[Any]
    max_tokens: int | None = None
    system: str | list[JSON] | None = None
    metadata: JSON | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    tools: list[JSON] | None = None
    tool_choice: JSON | None = None
    thinking: ThinkingConfig | None = None


_BODY_FIELDS = frozenset(MessagesBody.__struct_fields__)


def parse_messages_request(body: bytes, beta: str | None = None) -> ChatRequest:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "messages", "Anthropic Messages")
    if wrong is not None:
        raise wrong
    extra = {k: raw.pop(k) for k in list(raw) if k not in _BODY_FIELDS}
    b = convert(raw, MessagesBody, "request")
    if not b.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    if not b.messages:
        raise BadRequest("`messages` must contain at least one message.", param="messages")
    check_tokens("max_tokens", b.max_tokens)
    check_range("temperature", b.temperature, 0.0, 1.0)
    check_range("top_p", b.top_p, 0.0, 1.0)
    check_range("top_k", b.top_k, 0, None)
    messages = _system_messages(b.system)
    for i, turn in enumerate(b.messages):
        messages.extend(_client_turn(turn, i))
    tools = [_client_tool(t) for t in b.tools] if b.tools else None
    choice, parallel = _client_tool_choice(b.tool_choice)
    user = (b.metadata or {}).get("user_id")
    return ChatRequest(
        model=b.model,
        messages=messages,
        stream=b.stream,
        max_tokens=b.max_tokens,
        temperature=b.temperature,
        top_p=b.top_p,
        top_k=b.top_k,
        stop=b.stop_sequences or None,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        user=user if isinstance(user, str) else None,
        thinking=b.thinking,
        anthropic_beta=beta,
        door="messages",
        extra=extra,
    )


def _system_messages(system: str | list[JSON] | None) -> list[Message]:
    if not system:
        return []
    if isinstance(system, str):
        return [Message(role="system", content=system)]
    return [Message(role="system", content=[_client_part(b) for b in system])]


def _field(block: JSON, name: str, kind: type, where: str) -> Any:
    value = block.get(name)
    if not isinstance(value, kind):
        raise BadRequest(f"{where}: `{name}` is missing or not a {kind.__name__}.")
    return value


def _client_part(block: Any) -> JSON:
    """One Anthropic user/system content block as an IR (OpenAI-shaped) part."""
    if not isinstance(block, dict):
        raise BadRequest("Each content block must be a JSON object with a `type`.")
    kind = block.get("type")
    if kind == "text":
        part: JSON = {"type": "text", "text": _field(block, "text", str, "a text block")}
    elif kind == "image":
        part = {"type": "image_url", "image_url": {"url": _source_url(block)}}
    elif kind == "document" and isinstance(block.get("source"), dict):
        part = _document_part(block)
    else:
        return block  # Anthropic-native (search_result, ...): the upstream decides
    if "cache_control" in block:
        part["cache_control"] = block["cache_control"]
    return part


def _source_url(block: JSON) -> str:
    source = block.get("source")
    if not isinstance(source, dict):
        raise BadRequest("An image block needs a `source` object.")
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") or "image/png"
        return f"data:{media};base64,{source['data']}"
    raise BadRequest("An image `source` must be {type: base64, media_type, data} or {type: url}.")


def _document_part(block: JSON) -> JSON:
    source = block["source"]
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") or "application/pdf"
        name = block.get("title") or "document"
        return {
            "type": "file",
            "file": {"filename": name, "file_data": f"data:{media};base64,{source['data']}"},
        }
    return block


def _client_turn(turn: Any, i: int) -> list[Message]:
    if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant", "system"):
        raise BadRequest(
            f"messages[{i}] must be an object with role user, assistant or system.",
            param="messages",
        )
    role, content = turn["role"], turn.get("content")
    if isinstance(content, str) or content is None:
        return [Message(role=role, content=content or "")]
    if not isinstance(content, list):
        raise BadRequest(f"messages[{i}].content must be a string or a list of blocks.")
    if role == "assistant":
        return [_assistant_turn(content)]
    results = [_tool_result(b) for b in content if _is(b, "tool_result")]
    rest = [_client_part(b) for b in content if not _is(b, "tool_result")]
    if role == "system":
        return [Message(role="system", content=rest)]
    return results + ([Message(role="user", content=_compact(rest))] if rest else [])


def _is(block: Any, kind: str) -> bool:
    return isinstance(block, dict) and block.get("type") == kind


def _compact(parts: list[JSON]) -> str | list[JSON]:
    """A lone plain text part as a string, as most clients send it."""
    if len(parts) == 1 and parts[0].keys() == {"type", "text"}:
        return str(parts[0]["text"])
    return parts


def _tool_result(block: JSON) -> Message:
    content = block.get("content")
    if isinstance(content, list):
        content = _compact([_client_part(b) for b in content])
    elif content is not None and not isinstance(content, str):
        raise BadRequest("A tool_result's `content` must be a string or a list of blocks.")
    return Message(
        role="tool",
        tool_call_id=_field(block, "tool_use_id", str, "a tool_result block"),
        content=content if content is not None else "",
        is_error=bool(block["is_error"]) if "is_error" in block else None,
        cache_control=block.get("cache_control"),
    )


def _assistant_turn(content: list[Any]) -> Message:
    parts: list[JSON] = []
    calls: list[JSON] = []
    thinking: list[Thinking] = []
    for block in content:
        if _is(block, "text"):
            part: JSON = {"type": "text", "text": _field(block, "text", str, "a text block")}
            if "cache_control" in block:
                part["cache_control"] = block["cache_control"]
            parts.append(part)
        elif _is(block, "tool_use"):
            calls.append(_client_tool_use(block))
        elif _is(block, "thinking"):
            sig = block.get("signature")
            thinking.append(Thinking(str(block.get("thinking") or ""), sig or None))
        elif _is(block, "redacted_thinking"):
            thinking.append(Thinking(redacted=str(block.get("data") or "")))
        elif isinstance(block, dict):
            parts.append(block)  # server tool blocks and the like: Anthropic's own
        else:
            raise BadRequest("Each content block must be a JSON object with a `type`.")
    reasoning = "".join(t.text for t in thinking if t.text)
    text_only = all(p.keys() == {"type", "text"} for p in parts)
    return Message(
        role="assistant",
        content=("".join(p["text"] for p in parts) if text_only else parts) or None,
        tool_calls=calls or None,
        reasoning_content=reasoning or None,
        thinking=thinking or None,
    )


def _client_tool_use(block: JSON) -> JSON:
    tool_input = block.get("input", {})
    call: JSON = {
        "id": _field(block, "id", str, "a tool_use block"),
        "type": "function",
        "function": {
            "name": _field(block, "name", str, "a tool_use block"),
            "arguments": orjson.dumps(tool_input if tool_input is not None else {}).decode(),
        },
    }
    if "cache_control" in block:
        call["cache_control"] = block["cache_control"]
    return call


def _client_tool(tool: Any) -> JSON:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise BadRequest("Each tool must be an object with a `name`.", param="tools")
    if tool.get("type") not in (None, "custom"):
        return tool  # a server tool (web_search, bash, ...): Anthropic runs it
    function: JSON = {
        "name": tool["name"],
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    out: JSON = {"type": "function", "function": function}
    if "cache_control" in tool:
        out["cache_control"] = tool["cache_control"]
    return out


def _client_tool_choice(choice: JSON | None) -> tuple[str | JSON | None, bool | None]:
    if choice is None:
        return None, None
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}, parallel
    raise BadRequest(
        "`tool_choice.type` must be auto, any, tool (with a name) or none.", param="tool_choice"
    )
