"""Gemini `generateContent` request bodies from clients -> `ChatRequest` (the Gemini door).

Judgement calls:
- The model and whether to stream come from the URL (`models/{model}:streamGenerateContent`),
  not from the body.
- Google's REST API reads both camelCase and snake_case field names (curl examples use
  `system_instruction`, the SDKs `systemInstruction`), so both are read here; only the
  API's own objects are renamed, never a tool's arguments or a schema's property names.
- Thought parts in a model turn are reasoning. A `thoughtSignature` of tokenport's own
  (`wire.gemini_reply.thought_signature`) restores the answer's reasoning and signed
  thinking blocks exactly; Google's own, on a function call, stays with the call for a
  Gemini upstream (`extra_content.google.thought_signature`).
- Gemini function calls often carry no `id`. A call without one gets a stable id from its
  place in the conversation, and a `functionResponse` without one answers the earliest
  unanswered call of the same name, so OpenAI- and Anthropic-shaped upstreams, which pair
  results to calls by id, get a well-formed conversation.
- Tools other than function declarations (Google Search, code execution, URL context) run
  only at Google: they reach a Gemini upstream as sent and are dropped for any other (the
  door names them in `x-tokenport-dropped-tools`). So do the body fields not translated
  here (`safetySettings`, `cachedContent`, ...), through `extra`.
- `responseSchema` (Google's OpenAPI subset, types in capitals) and `responseJsonSchema` /
  `parametersJsonSchema` (JSON Schema) both become JSON Schema.
- `thinkingConfig.thinkingBudget` becomes the internal thinking budget (0 turns thinking
  off, -1 is "dynamic": on, budget left to the provider); `thinkingLevel` becomes a
  reasoning effort. Each provider's own switch then applies (`wire.openai_chat`,
  `wire.anthropic_upstream_out`). `includeThoughts` decides only whether thoughts come back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenport.errors import BadRequest
from tokenport.values import JSON, ChatRequest, Message, Thinking, ThinkingConfig
from tokenport.wire.common import check_range, check_tokens, decode_object
from tokenport.wire.gemini_reply import read_signature

_SNAKE = re.compile(r"_([a-z])")
# Body fields translated here; the rest (`safetySettings`, `cachedContent`, ...) ride in
# `extra` to a Gemini upstream only (`wire.gemini_request`).
_TRANSLATED = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model"}
)
_MAX_CANDIDATES = 8


@dataclass(slots=True)
class GeminiCall:
    """What the door remembers to render the answer."""

    include_thoughts: bool = False
    dropped: list[str] = field(default_factory=list)  # tools only Google runs


def camel(obj: Any) -> JSON:
    """A Gemini API object with its keys in camelCase (its own keys only, not nested ones)."""
    if not isinstance(obj, dict):
        return {}
    if not any("_" in k for k in obj):
        return obj
    return {_SNAKE.sub(lambda m: m.group(1).upper(), k): v for k, v in obj.items()}


def parse_gemini_request(body: bytes, model: str, stream: bool) -> tuple[ChatRequest, GeminiCall]:
    raw = camel(decode_object(body))
    if not model.strip():
        raise BadRequest("The model in the URL must not be empty.", param="model")
    return parse_body(raw, model, stream)


def parse_body(raw: JSON, model: str, stream: bool) -> tuple[ChatRequest, GeminiCall]:
    """A decoded (camelCased) body -> the request; countTokens reuses it."""
    contents = raw.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("`contents` must be a non-empty list of turns.", param="contents")
    call = GeminiCall()
    messages = _system(raw.get("systemInstruction"))
    messages += _Turns().read(contents)
    tools = _tools(raw.get("tools"), call)
    extra = {k: v for k, v in raw.items() if k not in _TRANSLATED}
    if call.dropped:
        extra["tools"] = [t for t in map(camel, raw["tools"]) if "functionDeclarations" not in t]
    request = ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        tools=tools or None,
        tool_choice=_tool_choice(raw.get("toolConfig")) if tools else None,
        door="gemini",
        extra=extra,
    )
    _generation(request, call, camel(raw.get("generationConfig")))
    return request, call


# ---------------------------------------------------------------------------------------
# Turns


def _system(instruction: Any) -> list[Message]:
    if instruction is None:
        return []
    if isinstance(instruction, str):
        return [Message(role="system", content=instruction)]
    parts = camel(instruction).get("parts")
    if not isinstance(parts, list):
        raise BadRequest("`systemInstruction` must be a Content with `parts`.")
    text = "\n".join(_text(camel(p)) for p in parts)
    return [Message(role="system", content=text)] if text else []


def _text(part: JSON) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise BadRequest("A system instruction takes text parts only.")
    return text


class _Turns:
    """Reads `contents` in order, pairing function responses with earlier calls."""

    def __init__(self) -> None:
        self.open_calls: list[tuple[str, str]] = []  # (name, id) not yet answered

    def read(self, contents: list[Any]) -> list[Message]:
        out: list[Message] = []
        for i, turn in enumerate(contents):
            turn = camel(turn)
            parts = turn.get("parts")
            if not isinstance(parts, list):
                raise BadRequest(f"contents[{i}] must be an object with `parts`.")
            role = turn.get("role") or "user"
            if role == "model":
                out.append(self._model(parts, i))
            elif role in ("user", "function", "tool"):
                out.extend(self._user(parts, i))
            else:
                raise BadRequest(f"contents[{i}].role must be user or model; got {role!r}.")
        return out

    def _model(self, parts: list[Any], i: int) -> Message:
        text: list[str] = []
        thoughts: list[str] = []
        calls: list[JSON] = []
        restored: tuple[str | None, list[Thinking] | None] | None = None
        for part in map(camel, parts):
            restored = restored or read_signature(part.get("thoughtSignature"))
            if "functionCall" in part:
                fc, sig = camel(part["functionCall"]), part.get("thoughtSignature")
                calls.append(self._call(fc, i, len(calls), sig))
            elif isinstance(part.get("text"), str) and part.get("thought"):
                thoughts.append(part["text"])
            elif isinstance(part.get("text"), str):
                text.append(part["text"])
            elif "thoughtSignature" in part:
                continue  # a signature alone: meaningful to Gemini only
            else:
                raise BadRequest(f"contents[{i}]: a model turn holds text and functionCall parts.")
        # Our own signature restores the answer's reasoning exactly, signed blocks included;
        # Gemini's own signatures mean nothing to another provider.
        reasoning, signed_blocks = restored or ("".join(thoughts) or None, None)
        return Message(
            role="assistant",
            content="".join(text) or None,
            tool_calls=calls or None,
            reasoning_content=reasoning,
            thinking=signed_blocks,
        )

    def _call(self, fc: JSON, i: int, k: int, signature: Any) -> JSON:
        name = fc.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"contents[{i}]: a functionCall needs a `name`.")
        call_id = fc.get("id") if isinstance(fc.get("id"), str) and fc.get("id") else None
        call_id = call_id or f"call_{i}_{k}"
        self.open_calls.append((name, call_id))
        args = fc.get("args")
        out: JSON = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(args or {}).decode()},
        }
        if signature is not None and read_signature(signature) is None:
            # Gemini's own, for a Gemini upstream (`wire.gemini_request`).
            out["extra_content"] = {"google": {"thought_signature": signature}}
        return out

    def _user(self, parts: list[Any], i: int) -> list[Message]:
        results: list[Message] = []
        rest: list[JSON] = []
        for part in map(camel, parts):
            if "functionResponse" in part:
                results.append(self._result(camel(part["functionResponse"]), i))
            else:
                rest.append(_user_part(part, i))
        if not rest:
            return results
        plain = all(p["type"] == "text" for p in rest)
        content: str | list[JSON] = "\n".join(p["text"] for p in rest) if plain else rest
        return [*results, Message(role="user", content=content)]

    def _result(self, fr: JSON, i: int) -> Message:
        name = fr.get("name")
        if not isinstance(name, str):
            raise BadRequest(f"contents[{i}]: a functionResponse needs a `name`.")
        call_id = fr.get("id") if isinstance(fr.get("id"), str) and fr.get("id") else None
        match = next((c for c in self.open_calls if c[1] == call_id), None) if call_id else None
        if match is None and call_id is None:
            match = next((c for c in self.open_calls if c[0] == name), None)
        if match is not None:
            self.open_calls.remove(match)
            call_id = match[1]
        response = fr.get("response")
        error = isinstance(response, dict) and set(response) == {"error"}
        return Message(
            role="tool",
            tool_call_id=call_id or f"call_{name}",
            name=name,
            content=_result_text(response),
            is_error=True if error else None,
        )


def _result_text(response: Any) -> str:
    """A lone string (`{"output": "..."}`, as Gemini CLI sends) as itself; else JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return orjson.dumps(response if response is not None else {}).decode()


def _user_part(part: JSON, i: int) -> JSON:
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if "inlineData" in part:
        blob = camel(part["inlineData"])
        mime, data = blob.get("mimeType"), blob.get("data")
        if not isinstance(mime, str) or not isinstance(data, str):
            raise BadRequest(f"contents[{i}]: inlineData needs `mimeType` and base64 `data`.")
        return _media(mime, f"data:{mime};base64,{data}")
    if "fileData" in part:
        ref = camel(part["fileData"])
        mime, uri = ref.get("mimeType"), ref.get("fileUri")
        if not isinstance(uri, str) or not isinstance(mime, str) or not mime.startswith("image/"):
            raise BadRequest(
                f"contents[{i}]: fileData is served for images by URL only; send other "
                "files as inlineData."
            )
        return {"type": "image_url", "image_url": {"url": uri}}
    kinds = ", ".join(sorted(part)) or "empty"
    raise BadRequest(
        f"contents[{i}]: unsupported part ({kinds}); text, inlineData, fileData, "
        "functionCall and functionResponse translate to every provider."
    )


def _media(mime: str, url: str) -> JSON:
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if mime.startswith("audio/"):
        fmt = mime.split("/", 1)[1]
        return {"type": "input_audio", "input_audio": {"data": url.split(",", 1)[1], "format": fmt}}
    return {"type": "file", "file": {"filename": "document", "file_data": url}}


# ---------------------------------------------------------------------------------------
# Tools


def _tools(tools: Any, call: GeminiCall) -> list[JSON]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadRequest("`tools` must be a list.", param="tools")
    out: list[JSON] = []
    for tool in map(camel, tools):
        decls = tool.get("functionDeclarations") or []
        if not isinstance(decls, list):
            raise BadRequest("`functionDeclarations` must be a list.", param="tools")
        out.extend(_function(camel(d)) for d in decls)
        call.dropped.extend(k for k in tool if k != "functionDeclarations")
    return out


def _function(decl: JSON) -> JSON:
    name = decl.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("Each function declaration needs a `name`.", param="tools")
    if "parametersJsonSchema" in decl:
        params = decl["parametersJsonSchema"]
    elif "parameters" in decl:
        params = json_schema(decl["parameters"])
    else:
        params = {"type": "object", "properties": {}}
    function: JSON = {"name": name, "parameters": params}
    if isinstance(decl.get("description"), str):
        function["description"] = decl["description"]
    return {"type": "function", "function": function}


def _tool_choice(config: Any) -> str | JSON | None:
    fcc = camel(camel(config).get("functionCallingConfig"))
    mode = str(fcc.get("mode") or "AUTO").upper()
    allowed = fcc.get("allowedFunctionNames")
    if mode == "NONE":
        return "none"
    if mode == "ANY":
        if isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
            return {"type": "function", "function": {"name": allowed[0]}}
        return "required"
    if mode in ("AUTO", "VALIDATED", "MODE_UNSPECIFIED"):
        return None if "mode" not in fcc else "auto"
    raise BadRequest(
        "`toolConfig.functionCallingConfig.mode` must be AUTO, ANY, NONE or VALIDATED.",
        param="toolConfig",
    )


_SCHEMA_KEEP = frozenset(
    {
        "format",
        "title",
        "description",
        "enum",
        "required",
        "minimum",
        "maximum",
        "pattern",
        "default",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
)
_INT_FIELDS = frozenset({"minLength", "maxLength", "minItems", "maxItems"})


def _digits(value: Any) -> bool:
    """An int64 field as Google's JSON writes it: a string of digits."""
    return isinstance(value, str) and value.isdigit()


def json_schema(schema: Any) -> Any:
    """Google's Schema (an OpenAPI 3.0 subset: `type: "OBJECT"`, `nullable`) -> JSON Schema."""
    if not isinstance(schema, dict):
        return schema
    s = camel(schema)
    out: JSON = {}
    kind = s.get("type")
    if isinstance(kind, str) and kind.upper() != "TYPE_UNSPECIFIED":
        out["type"] = [kind.lower(), "null"] if s.get("nullable") else kind.lower()
    for key in _SCHEMA_KEEP & s.keys():
        value = s[key]
        out[key] = int(value) if key in _INT_FIELDS and _digits(value) else value
    if isinstance(s.get("properties"), dict):
        out["properties"] = {k: json_schema(v) for k, v in s["properties"].items()}
    if "items" in s:
        out["items"] = json_schema(s["items"])
    if isinstance(s.get("anyOf"), list):
        out["anyOf"] = [json_schema(v) for v in s["anyOf"]]
    return out


# ---------------------------------------------------------------------------------------
# generationConfig


def _generation(request: ChatRequest, call: GeminiCall, g: JSON) -> None:
    if not g:
        return
    check_range("temperature", g.get("temperature"), 0.0, 2.0)
    check_range("topP", g.get("topP"), 0.0, 1.0)
    check_range("topK", g.get("topK"), 1, None)
    check_tokens("maxOutputTokens", g.get("maxOutputTokens"))
    check_range("candidateCount", g.get("candidateCount"), 1, _MAX_CANDIDATES)
    request.temperature = _number(g, "temperature")
    request.top_p = _number(g, "topP")
    request.top_k = _int(g, "topK")
    request.max_tokens = _int(g, "maxOutputTokens")
    request.presence_penalty = _number(g, "presencePenalty")
    request.frequency_penalty = _number(g, "frequencyPenalty")
    request.seed = _int(g, "seed")
    count = _int(g, "candidateCount")
    request.n = count if count and count > 1 else None
    stops = g.get("stopSequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(x, str) for x in stops):
            raise BadRequest("`stopSequences` must be a list of strings.", param="stopSequences")
        request.stop = stops or None
    request.response_format = _response_format(g)
    _thinking(request, call, camel(g.get("thinkingConfig")))


def _number(g: JSON, name: str) -> float | None:
    value = g.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"`{name}` must be a number.", param=name)
    return float(value)


def _int(g: JSON, name: str) -> int | None:
    value = g.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"`{name}` must be an integer.", param=name)
    return int(value)


def _response_format(g: JSON) -> JSON | None:
    mime = g.get("responseMimeType")
    schema = g.get("responseJsonSchema")
    if schema is None and g.get("responseSchema") is not None:
        schema = json_schema(g["responseSchema"])
    if mime in (None, "text/plain") and schema is None:
        return None
    if mime not in (None, "application/json"):
        raise BadRequest(
            f"`responseMimeType` {mime!r} is not served; use text/plain or application/json.",
            param="responseMimeType",
        )
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


def _thinking(request: ChatRequest, call: GeminiCall, t: JSON) -> None:
    if not t:
        return
    call.include_thoughts = bool(t.get("includeThoughts"))
    budget = _int(t, "thinkingBudget")
    level = t.get("thinkingLevel")
    if budget is not None:
        if budget < -1:
            raise BadRequest("`thinkingBudget` must be -1 (dynamic), 0 (off) or more.")
        if budget == 0:
            request.thinking = ThinkingConfig("disabled")
        else:
            request.thinking = ThinkingConfig("enabled", budget if budget > 0 else None)
    elif isinstance(level, str) and level.upper() != "THINKING_LEVEL_UNSPECIFIED":
        request.reasoning_effort = level.lower()
