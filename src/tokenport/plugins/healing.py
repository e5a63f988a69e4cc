"""response-healing: a JSON answer that does not parse, or does not match the request's
schema, repaired with `json-repair` and checked with `jsonschema` before the client sees it.

Only non-streamed answers to `response_format` `json_object` or `json_schema` are healed
(a stream's bytes have left before its end is known, as at OpenRouter).
"""

from __future__ import annotations

import json
import re
from typing import Any

import json_repair
import jsonschema

from tokenport.values import ChatRequest, ChatResponse

_JSON_FORMATS = ("json_object", "json_schema")
# A model that wraps its JSON in a Markdown fence: the fence goes before repairing.
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def wants_json(request: ChatRequest) -> bool:
    fmt = request.response_format
    return isinstance(fmt, dict) and fmt.get("type") in _JSON_FORMATS


def schema_of(request: ChatRequest) -> dict[str, Any] | None:
    fmt = request.response_format or {}
    spec = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else None


def heal(request: ChatRequest, response: ChatResponse) -> bool:
    """Repair every choice whose text needs it, in place; True when one was repaired."""
    validator = _validator(schema_of(request))
    healed = False
    for choice in response.choices:
        text = choice.message.content
        if isinstance(text, str):
            fixed = repaired(text, validator)
            if fixed is not None:
                choice.message.content = fixed
                healed = True
    return healed


def repaired(text: str, validator: Any | None) -> str | None:
    """The answer's JSON, repaired, or None when it is fine as it is or cannot be healed
    (nothing JSON-like in it, or still not matching the schema after repair)."""
    try:
        if _fits(json.loads(text), validator):
            return None
    except ValueError:
        pass
    fenced = _FENCE.match(text)
    value = json_repair.loads(fenced.group(1) if fenced else text)
    if not isinstance(value, dict | list) or not _fits(value, validator):
        return None
    return json.dumps(value, ensure_ascii=False)


def _fits(value: Any, validator: Any | None) -> bool:
    if validator is None:
        return isinstance(value, dict | list)
    return bool(validator.is_valid(value))


def _validator(schema: dict[str, Any] | None) -> Any | None:
    """A validator for the request's schema; None when there is none or it is itself
    invalid (then any well-formed JSON object or array passes)."""
    if schema is None:
        return None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None
    return cls(schema)
