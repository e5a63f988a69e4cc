"""OpenAI Responses requests -> `ChatRequest`. Pure functions, no I/O.

Every route is reached through Chat Completions (or Anthropic Messages) upstream; the
Responses API's items become chat turns:

- `instructions` is the first system turn; `input` as a string is one user turn.
- `message` items keep their role; `input_text`/`output_text` parts are text, `input_image`
  an image part, `input_file` (inline data) a file part. `file_id` references point into
  OpenAI's own file store, which the gateway does not have: 400.
- `function_call` items join the assistant turn they follow (parallel calls share one);
  `function_call_output` items are tool turns. `reasoning` items give their summary and
  reasoning text to the next assistant turn's `reasoning_content` (DeepSeek, Kimi and GLM
  want it back on tool-call turns). Anthropic's signed thinking travels to the client in
  the item's `encrypted_content` (as `tp1:` + base64 JSON) and comes back from it, because
  Anthropic refuses a tool-use turn with thinking on unless its signed block leads it;
  OpenAI's own encrypted content means nothing to these upstreams and is left out.
- Tools: `function` tools are chat functions. A `custom` (free-form) tool is a function
  taking one string, `input`. A `namespace`'s functions are flattened as
  `<namespace>__<name>`, and calls come back with their `namespace` set. Built-in tools
  (web search, file search, computer use, code interpreter, image generation, MCP) cannot
  be served by a chat upstream: a request that offers one is served without it (the
  response's `X-Tokenport-Dropped-Tools` header names it), and one that forces one is a 400.
  Codex offers `web_search` on every request, so refusing merely offered tools would refuse
  Codex altogether.
- `text.format` is `response_format`; `reasoning.effort` is `reasoning_effort`;
  `max_output_tokens` is `max_tokens`; `safety_identifier` (or `user`) is `user`.
- `background` and `conversation` need server-side state the gateway does not keep: 400.
  Other fields (`include`, `prompt_cache_key`, `truncation`, client metadata) are accepted
  and not forwarded: strict upstreams answer 400 to fields they do not know.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from tokenport.errors import BadRequest
from tokenport.values import JSON, ChatRequest, Message, Thinking
from tokenport.wire.common import (
    check_range,
    check_tokens,
    convert,
    decode_object,
    wrong_door_error,
)

NAMESPACE_SEP = "__"
_BUILTIN_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "computer_use_preview",
        "computer",
        "code_interpreter",
        "image_generation",
        "mcp",
        "local_shell",
        "shell",
        "apply_patch",
        "tool_search",
    }
)
_CUSTOM_PARAMETERS: JSON = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's free-form input."}},
    "required": ["input"],
}


_SEALED = "tp1:"
_thinking_list = msgspec.json.Decoder(list[Thinking])


def seal_thinking(blocks: list[Thinking]) -> str | None:
    """Signed or redacted thinking as a reasoning item's `encrypted_content`."""
    if not any(t.signature or t.redacted is not None for t in blocks):
        return None
    return _SEALED + base64.urlsafe_b64encode(msgspec.json.encode(blocks)).decode()


def unseal_thinking(content: Any) -> list[Thinking]:
    if not isinstance(content, str) or not content.startswith(_SEALED):
        return []  # OpenAI's own encrypted reasoning, or nothing
    try:
        return _thinking_list.decode(base64.urlsafe_b64decode(content[len(_SEALED) :]))
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        return []  # not ours after all: sent without it


class ResponsesBody(msgspec.Struct):
    model: str
    input: str | list[Any] | None = None
    instructions: str | list[Any] | None = None
    tools: list[JSON] | None = None
    tool_choice: str | JSON | None = None
    parallel_tool_calls: bool | None = None
    text: JSON | None = None
    reasoning: JSON | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    store: bool = True
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    stream: bool = False
    background: bool | None = None
    conversation: Any = None


@dataclass(slots=True)
class ResponsesCall:
    """What the door keeps beside the ChatRequest to render and store the answer."""

    body: ResponsesBody
    custom: set[str] = field(default_factory=set)  # chat names of free-form tools
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (ns, tool)
    dropped: list[str] = field(default_factory=list)  # built-in tools served without
    leading: int = 0  # how many leading turns came from `instructions`
    stored: tuple[JSON, Message] | None = None  # the answer, once rendered, for `store`

    def output_name(self, name: str) -> tuple[str, str | None]:
        """A chat function name as the client knows it: (name, namespace)."""
        found = self.namespaced.get(name)
        return (found[1], found[0]) if found is not None else (name, None)


def parse_responses_request(body: bytes) -> tuple[ChatRequest, ResponsesCall]:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "responses", "Responses")
    if wrong is not None:
        raise wrong
    known = {k: raw[k] for k in ResponsesBody.__struct_fields__ if k in raw}
    b = convert(known, ResponsesBody, "request")
    _check(b)
    call = ResponsesCall(b)
    tools = _tools(b.tools or [], call)
    choice = _tool_choice(b.tool_choice, call)
    if choice == "required" and not tools:
        raise BadRequest(
            f"`tool_choice` requires a tool, and the only ones offered are built-in tools "
            f"this gateway cannot run ({', '.join(call.dropped)}).",
            param="tool_choice",
        )
    messages = _instructions(b.instructions, call)
    call.leading = len(messages)
    messages += input_messages(b.input, call)
    request = ChatRequest(
        model=b.model,
        messages=messages,
        stream=b.stream,
        max_tokens=b.max_output_tokens,
        temperature=b.temperature,
        top_p=b.top_p,
        tools=tools or None,
        tool_choice=choice if tools else None,
        parallel_tool_calls=b.parallel_tool_calls if tools else None,
        response_format=_response_format(b.text),
        reasoning_effort=_effort(b.reasoning),
        logprobs=True if b.top_logprobs else None,
        top_logprobs=b.top_logprobs or None,
        user=b.safety_identifier or b.user,
        door="responses",
    )
    return request, call


def _check(b: ResponsesBody) -> None:
    if not b.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    if b.input is None and b.previous_response_id is None:
        raise BadRequest("`input` is required.", param="input")
    if b.background:
        raise BadRequest(
            "Background responses are not supported by this gateway; send the request "
            "without `background`, streamed if it is long.",
            param="background",
        )
    if b.conversation is not None:
        raise BadRequest(
            "Conversations are not supported by this gateway; chain responses with "
            "`previous_response_id` instead.",
            param="conversation",
        )
    check_tokens("max_output_tokens", b.max_output_tokens)
    check_range("temperature", b.temperature, 0.0, 2.0)
    check_range("top_p", b.top_p, 0.0, 1.0)
    check_range("top_logprobs", b.top_logprobs, 0, 20)


# ---------------------------------------------------------------------------------------
# Tools


def _tools(tools: list[JSON], call: ResponsesCall) -> list[JSON]:
    out: list[JSON] = []
    for tool in tools:
        if not isinstance(tool, dict):
            raise BadRequest("Each tool must be a JSON object with a `type`.", param="tools")
        kind = tool.get("type")
        if kind == "namespace":
            ns = _name(tool, "a namespace tool")
            for inner in tool.get("tools") or []:
                out.append(_tool(inner, call, ns))
        elif kind in ("function", "custom"):
            out.append(_tool(tool, call, None))
        elif kind in _BUILTIN_TOOLS:
            call.dropped.append(str(kind))
        else:
            raise BadRequest(f"Unknown tool type {kind!r}.", param="tools")
    return out


def _name(tool: Any, what: str) -> str:
    name = tool.get("name") if isinstance(tool, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{what} needs a `name`.", param="tools")
    return name


def _tool(tool: Any, call: ResponsesCall, ns: str | None) -> JSON:
    name = _name(tool, "a function tool")
    chat_name = f"{ns}{NAMESPACE_SEP}{name}" if ns else name
    if ns:
        call.namespaced[chat_name] = (ns, name)
    if tool.get("type") == "custom":
        call.custom.add(chat_name)
        parameters = _CUSTOM_PARAMETERS
    elif tool.get("type") == "function":
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
    else:
        raise BadRequest(f"A namespace may hold functions only, not {tool.get('type')!r}.")
    function: JSON = {"name": chat_name, "parameters": parameters}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None and tool.get("type") == "function":
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _chat_name(name: str, ns: Any) -> str:
    return f"{ns}{NAMESPACE_SEP}{name}" if isinstance(ns, str) and ns else name


def _tool_choice(choice: str | JSON | None, call: ResponsesCall) -> str | JSON | None:
    if choice is None or isinstance(choice, str):
        if choice not in (None, "auto", "none", "required"):
            raise BadRequest("`tool_choice` must be auto, none or required.", param="tool_choice")
        return choice
    kind = choice.get("type")
    if kind in ("function", "custom"):
        name = _chat_name(_name(choice, "`tool_choice`"), choice.get("namespace"))
        return {"type": "function", "function": {"name": name}}
    if kind == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"
    if kind in _BUILTIN_TOOLS:
        raise BadRequest(
            f"`tool_choice` forces the built-in tool {kind!r}, which this gateway cannot run: "
            "its upstreams speak Chat Completions.",
            param="tool_choice",
        )
    raise BadRequest(f"Unknown `tool_choice` type {kind!r}.", param="tool_choice")


def _response_format(text: JSON | None) -> JSON | None:
    fmt = (text or {}).get("format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise BadRequest(f"Unknown `text.format` type {fmt.get('type')!r}.", param="text")


def _effort(reasoning: JSON | None) -> str | None:
    effort = (reasoning or {}).get("effort")
    return effort if isinstance(effort, str) else None


# ---------------------------------------------------------------------------------------
# Input items -> chat turns


def _instructions(instructions: str | list[Any] | None, call: ResponsesCall) -> list[Message]:
    if not instructions:
        return []
    if isinstance(instructions, str):
        return [Message(role="system", content=instructions)]
    return input_messages(instructions, call)


def input_messages(items: str | list[Any] | None, call: ResponsesCall) -> list[Message]:
    if items is None:
        return []
    if isinstance(items, str):
        return [Message(role="user", content=items)]
    builder = _Turns(call)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"input[{i}] must be a JSON object.", param="input")
        builder.add(item, i)
    return builder.done()


class _Turns:
    """Accumulates chat turns; function calls and reasoning join the assistant turn."""

    def __init__(self, call: ResponsesCall) -> None:
        self.call = call
        self.out: list[Message] = []
        self.reasoning: list[str] = []
        self.thinking: list[Thinking] = []

    def add(self, item: JSON, i: int) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item, i)
        elif kind in ("function_call", "custom_tool_call"):
            self._call(item, kind, i)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.out.append(
                Message(
                    role="tool",
                    tool_call_id=_str(item, "call_id", i),
                    content=_output(item.get("output"), i),
                )
            )
        elif kind == "reasoning":
            self.reasoning += _reasoning_text(item)
            self.thinking += unseal_thinking(item.get("encrypted_content"))
        elif kind == "item_reference":
            raise BadRequest(
                f"input[{i}]: item references need OpenAI's stored items; send the item "
                "itself, or use `previous_response_id`.",
                param="input",
            )
        else:
            raise BadRequest(f"input[{i}]: unsupported item type {kind!r}.", param="input")

    def _assistant(self) -> Message:
        last = self.out[-1] if self.out else None
        if last is not None and last.role == "assistant" and not self.reasoning:
            return last
        turn = Message(
            role="assistant",
            reasoning_content="".join(self.reasoning) or None,
            thinking=self.thinking or None,
        )
        self.reasoning, self.thinking = [], []
        self.out.append(turn)
        return turn

    def _message(self, item: JSON, i: int) -> None:
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise BadRequest(f"input[{i}].role must be user, assistant, system or developer.")
        content = _content(item.get("content"), i)
        if role != "assistant":
            self.out.append(Message(role=role, content=content))
            return
        turn = self._assistant()
        text = (
            content
            if isinstance(content, str)
            else "".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
        )
        turn.content = (turn.content or "") + text if isinstance(turn.content, str | None) else text

    def _call(self, item: JSON, kind: str, i: int) -> None:
        name = _chat_name(_str(item, "name", i), item.get("namespace"))
        if kind == "custom_tool_call":
            arguments = orjson.dumps({"input": str(item.get("input", ""))}).decode()
        else:
            arguments = str(item.get("arguments") or "{}")
        turn = self._assistant()
        turn.tool_calls = [
            *(turn.tool_calls or []),
            {
                "id": _str(item, "call_id", i),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            },
        ]

    def done(self) -> list[Message]:
        return self.out


def _str(item: JSON, key: str, i: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"input[{i}] needs a string `{key}`.", param="input")
    return value


def _reasoning_text(item: JSON) -> list[str]:
    parts = [*(item.get("summary") or []), *(item.get("content") or [])]
    return [str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("text")]


def _content(content: Any, i: int) -> str | list[JSON]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest(f"input[{i}].content must be a string or a list of parts.")
    parts = [_part(p, i) for p in content]
    if len(parts) == 1 and parts[0].get("type") == "text":
        return str(parts[0]["text"])
    return parts


def _part(part: Any, i: int) -> JSON:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal", ""))}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: JSON = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part.get("file_data"), str):
        return {
            "type": "file",
            "file": {"filename": part.get("filename") or "file", "file_data": part["file_data"]},
        }
    if kind in ("input_image", "input_file"):
        raise BadRequest(
            f"input[{i}]: a `file_id` points into OpenAI's file store; send the data inline "
            "(a data URL) instead.",
            param="input",
        )
    raise BadRequest(f"input[{i}]: unsupported content part {kind!r}.", param="input")


def _output(output: Any, i: int) -> str | list[JSON]:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return _content(output, i)
    return orjson.dumps(output).decode()
