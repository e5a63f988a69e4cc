"""Anthropic Messages requests <-> `ChatRequest`, both ways. Pure functions, no I/O.

    client Messages body -> ChatRequest    `anthropic_client_in.parse_messages_request`   (the door)
    ChatRequest -> upstream Messages body  `messages_upstream_body`   (the Anthropic adapter)

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

import msgspec
import orjson

from tokenport.errors import UpstreamBadRequest
from tokenport.values import JSON, ChatRequest, Message, Thinking

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
_EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}

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


def messages_upstream_body(
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
