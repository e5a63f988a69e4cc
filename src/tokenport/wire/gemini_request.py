"""`ChatRequest` -> a Gemini `generateContent` body (the Gemini adapter, `providers/gemini.py`).

Judgement calls:
- System and developer turns become `systemInstruction`; consecutive tool results become
  one user turn of `functionResponse` parts (Gemini wants a function's responses together,
  right after the model turn that called it), each `response` an object: a result that is
  a JSON object as it is, any other text as `{"output": ...}` (`{"error": ...}` for a failed
  tool), as Gemini CLI sends them.
- A call's own `thoughtSignature` from Gemini (kept on the tool call as
  `extra_content.google.thought_signature`, the key Google's OpenAI-compatible endpoint
  uses) goes back on its `functionCall` part; Gemini 3 refuses a function-calling turn
  without it. Reasoning text from other models is not sent: Gemini takes no thoughts back.
- The thinking budget becomes `thinkingConfig.thinkingBudget` (off: 0, on without a budget:
  -1, dynamic) and an effort level a budget; thoughts are asked for whenever thinking is on,
  so reasoning comes back to clients that show it.
- JSON-schema response formats go as `responseJsonSchema` (JSON Schema, which Gemini reads
  as such), JSON mode as `responseMimeType` alone.
- Presence and frequency penalties are not sent: some Gemini models answer 400 to them
  ("Penalty is not enabled"); `logit_bias` and `user` have no Gemini field.
- From the Gemini door only, the fields tokenport does not translate (`safetySettings`,
  `cachedContent`, Google's own tools such as `googleSearch`) pass through as the client
  sent them: native to a Gemini upstream, dropped for any other.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenport.values import JSON, ChatRequest, Message

# Effort levels as thinking budgets (Gemini 2.5 takes a budget; -1 lets the model decide).
_EFFORT_BUDGET = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
_EXTENSIONS = {"png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def gemini_upstream_body(request: ChatRequest, exclude: list[str]) -> bytes:
    system, contents = _contents(request.messages)
    body: JSON = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    functions = [_declaration(t) for t in request.tools or () if t.get("type") == "function"]
    if functions:
        body["tools"] = [{"functionDeclarations": functions}]
        config = _tool_config(request.tool_choice)
        if config is not None:
            body["toolConfig"] = {"functionCallingConfig": config}
    generation = _generation(request)
    if generation:
        body["generationConfig"] = generation
    if request.door == "gemini":
        _pass_through(body, request.extra)
    for key in exclude:
        body.pop(key, None)
    return orjson.dumps(body)


def _pass_through(body: JSON, extra: JSON) -> None:
    for key, value in extra.items():
        if key == "tools" and isinstance(value, list):
            body["tools"] = [*body.get("tools", []), *value]
        else:
            body.setdefault(key, value)


# ---------------------------------------------------------------------------------------
# Messages -> contents


def _contents(messages: list[Message]) -> tuple[list[str], list[JSON]]:
    system: list[str] = []
    contents: list[JSON] = []
    names: dict[str, str] = {}  # tool call id -> function name, for responses that lack it
    for m in messages:
        if m.role in ("system", "developer"):
            system.append(_plain(m.content))
            continue
        if m.role == "assistant":
            role, parts = "model", _model_parts(m, names)
        elif m.role in ("tool", "function"):
            role, parts = "user", [_function_response(m, names)]
        else:
            role, parts = "user", _user_parts(m.content)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)  # Gemini wants turns to alternate
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _plain(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _model_parts(m: Message, names: dict[str, str]) -> list[JSON]:
    parts: list[JSON] = []
    text = _plain(m.content)
    if text:
        parts.append({"text": text})
    for call in m.tool_calls or ():
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        try:
            args = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            args = {}
        fc: JSON = {"name": name, "args": args if isinstance(args, dict) else {}}
        if call.get("id"):
            fc["id"] = call["id"]
            names[str(call["id"])] = name
        part: JSON = {"functionCall": fc}
        google = (call.get("extra_content") or {}).get("google") or {}
        if google.get("thought_signature"):
            part["thoughtSignature"] = google["thought_signature"]
        parts.append(part)
    return parts


def _function_response(m: Message, names: dict[str, str]) -> JSON:
    text = _plain(m.content)
    try:
        response = orjson.loads(text)
    except orjson.JSONDecodeError:
        response = None
    if not isinstance(response, dict):
        response = {"error" if m.is_error else "output": text}
    name = m.name or names.get(m.tool_call_id or "", "") or "function"
    fr: JSON = {"name": name, "response": response}
    if m.tool_call_id:
        fr["id"] = m.tool_call_id
    return {"functionResponse": fr}


def _user_parts(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    out: list[JSON] = []
    for part in content or ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            out.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            out.append(_media((part.get("image_url") or {}).get("url") or ""))
        elif kind == "file":
            out.append(_media((part.get("file") or {}).get("file_data") or ""))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            mime = f"audio/{audio.get('format') or 'wav'}"
            out.append({"inlineData": {"mimeType": mime, "data": audio.get("data") or ""}})
    return out


def _media(url: str) -> JSON:
    """A data URL as inline data; any other URL by reference, its type from its name."""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return {"inlineData": {"mimeType": head or "application/octet-stream", "data": data}}
    ext = url.rsplit(".", 1)[-1].lower() if "." in url else ""
    return {"fileData": {"mimeType": _EXTENSIONS.get(ext, "image/jpeg"), "fileUri": url}}


# ---------------------------------------------------------------------------------------
# Tools and generationConfig


def _declaration(tool: JSON) -> JSON:
    function = tool.get("function") or {}
    decl: JSON = {"name": function.get("name") or ""}
    if function.get("description"):
        decl["description"] = function["description"]
    if function.get("parameters"):
        decl["parametersJsonSchema"] = function["parameters"]
    return decl


def _tool_config(choice: str | JSON | None) -> JSON | None:
    if choice is None:
        return None
    if choice == "none":
        return {"mode": "NONE"}
    if choice == "required":
        return {"mode": "ANY"}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    return {"mode": "AUTO"}


def _generation(request: ChatRequest) -> JSON:
    g: JSON = {}
    pairs = (
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
        ("maxOutputTokens", request.output_cap()),
        ("candidateCount", request.n),
        ("seed", request.seed),
    )
    g.update((k, v) for k, v in pairs if v is not None)
    if request.stop:
        g["stopSequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    fmt = request.response_format or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        g["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is not None:
            g["responseJsonSchema"] = schema
    thinking = _thinking(request)
    if thinking is not None:
        g["thinkingConfig"] = thinking
    return g


def _thinking(request: ChatRequest) -> JSON | None:
    t = request.thinking
    if t is not None:
        if t.type == "disabled":
            return {"thinkingBudget": 0}
        return {"thinkingBudget": t.budget_tokens or -1, "includeThoughts": True}
    budget = _EFFORT_BUDGET.get(request.reasoning_effort or "")
    if budget is None:
        return None
    return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
