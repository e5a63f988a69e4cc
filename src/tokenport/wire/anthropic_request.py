"""Anthropic Messages requests <-> `ChatRequest`, both ways. Pure functions, no I/O.

    client Messages body -> ChatRequest    `parse_request`   (the messages door)
    ChatRequest -> upstream Messages body  `upstream_body`   (the Anthropic adapter)

Judgement calls, where the two shapes differ:

- System and developer messages are hoisted into `system`, except the `role: system`
  turns a Messages client sends inside the conversation (Claude Code does): those stay in
  place for an Anthropic upstream, which reads them there.
- Consecutive turns of one role are merged (tool results for parallel calls must share one
  user turn, right after the assistant's `tool_use`). A user turn's `tool_result` blocks
  become IR tool messages, ahead of the rest of that turn's content.
- Thinking blocks keep their `signature` across turns. Unsigned reasoning (from an
  OpenAI-compatible model, earlier in a conversation that moved to Anthropic) is not sent:
  Anthropic rejects thinking blocks it did not sign.
- A thinking budget must stay under `max_tokens`: it is clamped to `max_tokens - 1`, and
  thinking is left off when that leaves under Anthropic's minimum of 1,024. With thinking
  on, `temperature` (other than 1), `top_k` and a `top_p` under 0.95 are dropped, as
  Anthropic requires. An OpenAI `reasoning_effort` becomes a budget (low 1,024, medium
  4,096, high 16,384).
- `temperature` is clamped to Anthropic's 0..1 (OpenAI's scale runs to 2).
- `response_format` (json_object / json_schema) becomes an instruction appended to
  `system`, with the schema inlined. It is best effort: Anthropic has no JSON mode.
- `seed`, penalties, `logit_bias`, `logprobs` and `n` have no Anthropic equivalent and are
  dropped; `user` is `metadata.user_id`; `parallel_tool_calls=false` is
  `disable_parallel_tool_use`.
- Fields a door does not know pass through in `extra`: a chat client's to either protocol
  (as before: `thinking` or `top_k` sent to Anthropic by an OpenAI SDK user), a Messages
  client's only to Anthropic (`context_management`, `output_config`, ... mean nothing to an
  OpenAI-compatible upstream, which drops them rather than answering 400).
- Images: data URLs are base64 image blocks, http(s) URLs URL image blocks. Documents are
  OpenAI `file` parts. Other Anthropic-native blocks travel as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from tokenport.errors import BadRequest, UpstreamBadRequest
from tokenport.types import JSON, ChatRequest, Message, Thinking, ThinkingConfig
from tokenport.wire.common import (
    check_range,
    check_tokens,
    convert,
    decode_object,
    wrong_door_error,
)

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
_EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}

# ---------------------------------------------------------------------------------------
# Client Messages body -> ChatRequest


class _Body(msgspec.Struct):
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


_BODY_FIELDS = frozenset(_Body.__struct_fields__)


def parse_request(body: bytes, beta: str | None = None) -> ChatRequest:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "messages", "Anthropic Messages")
    if wrong is not None:
        raise wrong
    extra = {k: raw.pop(k) for k in list(raw) if k not in _BODY_FIELDS}
    b = convert(raw, _Body, "request")
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


# ---------------------------------------------------------------------------------------
# ChatRequest -> upstream Messages body


def _text_block(text: str) -> JSON:
    return {"type": "text", "text": text}


def _image_block(url: str) -> JSON:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media_type = head[5:].split(";")[0] or "image/png"
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _file_block(file: JSON) -> JSON:
    data = str(file.get("file_data") or "")
    head, _, payload = data.partition(",")
    block: JSON = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": head[5:].split(";")[0] or "application/pdf",
            "data": payload,
        },
    }
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _part(part: JSON) -> JSON:
    kind = part.get("type")
    if kind == "text":
        block = _text_block(str(part.get("text", "")))
    elif kind == "image_url":
        image = part.get("image_url")
        block = _image_block(image.get("url", "") if isinstance(image, dict) else str(image or ""))
    elif kind == "file" and isinstance(part.get("file"), dict):
        block = _file_block(part["file"])
    else:
        return part  # already Anthropic-shaped (document, search_result, ...)
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _blocks(content: str | list[JSON] | None) -> list[JSON]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [_text_block(content)]
    return [_part(p) for p in content]


def _tool_use(provider: str, call: JSON) -> JSON:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        tool_input = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadRequest(provider, "a tool call's arguments are not valid JSON") from exc
    if not isinstance(tool_input, dict):
        raise UpstreamBadRequest(provider, "a tool call's arguments are not a JSON object")
    block: JSON = {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": function.get("name", ""),
        "input": tool_input,
    }
    if "cache_control" in call:
        block["cache_control"] = call["cache_control"]
    return block


def _thinking_blocks(thinking: list[Thinking] | None) -> list[JSON]:
    out: list[JSON] = []
    for t in thinking or ():
        if t.redacted is not None:
            out.append({"type": "redacted_thinking", "data": t.redacted})
        elif t.signature:
            out.append({"type": "thinking", "thinking": t.text, "signature": t.signature})
    return out


def _turn(provider: str, message: Message) -> tuple[str, list[JSON]]:
    """One IR message as (Anthropic role, content blocks)."""
    if message.role in ("tool", "function"):
        result: JSON = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or message.name or "",
        }
        if message.content:
            result["content"] = (
                message.content if isinstance(message.content, str) else _blocks(message.content)
            )
        if message.is_error is not None:
            result["is_error"] = message.is_error
        blocks = [result]
    elif message.role == "assistant":
        blocks = _thinking_blocks(message.thinking) + _blocks(message.content)
        blocks += [_tool_use(provider, call) for call in message.tool_calls or []]
    else:
        blocks = _blocks(message.content)
    if message.cache_control is not None and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": message.cache_control}
    return ("assistant" if message.role == "assistant" else "user"), blocks


def _kept_in_place(request: ChatRequest) -> set[int]:
    """System turns a Messages client sent inside the conversation (Claude Code does): they
    stay where they are for an Anthropic upstream, which reads them there, and so the
    prompt-cache prefix before them stays the same from one turn to the next."""
    if request.door != "messages":
        return set()
    messages = request.messages
    first = next(
        (i for i, m in enumerate(messages) if m.role not in ("system", "developer")),
        len(messages),
    )
    return {i for i, m in enumerate(messages) if i > first and m.role in ("system", "developer")}


def _messages(provider: str, request: ChatRequest) -> list[JSON]:
    out: list[JSON] = []
    in_place = _kept_in_place(request)
    for i, message in enumerate(request.messages):
        if i in in_place:
            out.append({"role": "system", "content": _blocks(message.content)})
            continue
        if message.role in ("system", "developer"):
            continue
        role, blocks = _turn(provider, message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:
        # Tool results lead their user turn, as Anthropic requires after a tool_use.
        turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]  # as most clients send it
    return out


def _format_instruction(response_format: JSON | None) -> str | None:
    kind = (response_format or {}).get("type")
    if kind == "json_object":
        return "Respond with a single JSON object and nothing else."
    if kind == "json_schema":
        schema = (response_format or {}).get("json_schema") or {}
        text = orjson.dumps(schema.get("schema", schema)).decode()
        return (
            f"Respond with one JSON value that conforms to this JSON Schema, nothing else: {text}"
        )
    return None


def _system(request: ChatRequest) -> str | list[JSON] | None:
    in_place = _kept_in_place(request)
    blocks = [
        b
        for i, m in enumerate(request.messages)
        if m.role in ("system", "developer") and i not in in_place
        for b in _blocks(m.content)
    ]
    instruction = _format_instruction(request.response_format)
    if instruction:
        blocks.append(_text_block(instruction))
    if not blocks:
        return None
    if all(set(b) == {"type", "text"} for b in blocks):
        return "\n\n".join(b["text"] for b in blocks)
    return blocks  # keeps cache_control on system parts


def _tool(tool: JSON) -> JSON:
    if tool.get("type") != "function":
        return tool  # an Anthropic server tool (web_search, ...) sent natively
    function = tool.get("function") or {}
    out: JSON = {
        "name": function.get("name", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    if "cache_control" in tool:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(choice: str | JSON | None, parallel: bool | None) -> JSON | None:
    if choice is None:
        out: JSON | None = None
    elif isinstance(choice, str):
        out = {"type": {"auto": "auto", "none": "none", "required": "any"}.get(choice, "auto")}
    elif choice.get("type") == "function":
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    else:
        out = choice  # already Anthropic-shaped: {"type": "any"} etc.
    if parallel is False and (out is None or out.get("type") != "none"):
        out = {"type": "auto", **(out or {}), "disable_parallel_tool_use": True}
    return out


def _thinking(request: ChatRequest) -> tuple[JSON | None, int]:
    """The `thinking` field and the `max_tokens` to send beside it.

    With no output cap from the client, the cap is the budget plus the usual answer room,
    so turning thinking on never starves the answer. A budget derived from an effort level
    takes at most half of a client's cap.
    """
    t, cap = request.thinking, request.output_cap()
    if t is not None and t.type != "enabled":
        # disabled, or a newer mode (adaptive), with the client's `display` choice
        return msgspec.to_builtins(msgspec.structs.replace(t, budget_tokens=None)), (
            cap or DEFAULT_MAX_TOKENS
        )
    if t is not None:
        budget = t.budget_tokens or _EFFORT_BUDGET["medium"]
        limit = cap - 1 if cap is not None else budget
    else:
        effort_budget = _EFFORT_BUDGET.get(request.reasoning_effort or "")
        if effort_budget is None:
            return None, cap or DEFAULT_MAX_TOKENS
        budget = effort_budget
        limit = cap // 2 if cap is not None else budget
    budget = min(budget, limit)
    max_tokens = cap if cap is not None else budget + DEFAULT_MAX_TOKENS
    if budget < MIN_THINKING_BUDGET:
        return None, max_tokens
    out: JSON = {"type": "enabled", "budget_tokens": budget}
    if t is not None and t.display is not None:
        out["display"] = t.display
    return out, max_tokens


def _sampling(request: ChatRequest, thinking_on: bool) -> JSON:
    out: JSON = {}
    if request.temperature is not None and (not thinking_on or request.temperature == 1):
        out["temperature"] = min(1.0, max(0.0, request.temperature))
    if request.top_p is not None and (not thinking_on or request.top_p >= 0.95):
        out["top_p"] = request.top_p
    if request.top_k is not None and not thinking_on:
        out["top_k"] = request.top_k
    if request.stop:
        out["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    if request.user:
        out["metadata"] = {"user_id": request.user}
    return out


def upstream_body(
    provider: str, request: ChatRequest, model: str, stream: bool, exclude: list[str]
) -> bytes:
    """The Messages request body. `exclude` names top-level keys the upstream rejects."""
    thinking, max_tokens = _thinking(request)
    body: JSON = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": _messages(provider, request),
    }
    system = _system(request)
    if system:
        body["system"] = system
    if thinking is not None:
        body["thinking"] = thinking
    body.update(_sampling(request, thinking is not None and thinking["type"] == "enabled"))
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice:
            body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    if request.door in ("chat", "messages"):
        body.update(request.extra)
    for key in exclude:
        body.pop(key, None)
    return orjson.dumps(body)
