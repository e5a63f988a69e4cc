"""Gemini request bodies -> ChatRequest (`wire/gemini_parse.py`): what translates, what is
refused with a 400 that says why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokenport.errors import BadRequest
from tokenport.values import ThinkingConfig
from tokenport.wire.gemini_parse import json_schema, parse_gemini_request

USER = [{"role": "user", "parts": [{"text": "hello"}]}]


def parse(body: dict[str, Any], stream: bool = False) -> Any:
    return parse_gemini_request(json.dumps(body).encode(), "vendor/model", stream)


def test_text_system_and_both_spellings() -> None:
    for system_key, config_key in (
        ("systemInstruction", "generationConfig"),
        ("system_instruction", "generation_config"),
    ):
        request, call = parse(
            {
                "contents": USER,
                system_key: {"parts": [{"text": "be brief"}, {"text": "be kind"}]},
                config_key: {"max_output_tokens": 64, "temperature": 0.2, "stop_sequences": ["x"]},
            },
            stream=True,
        )
        assert request.model == "vendor/model" and request.stream and request.door == "gemini"
        assert [(m.role, m.content) for m in request.messages] == [
            ("system", "be brief\nbe kind"),
            ("user", "hello"),
        ]
        assert (request.max_tokens, request.temperature, request.stop) == (64, 0.2, ["x"])
        assert not call.include_thoughts and call.dropped == []


def test_function_call_round_trip_pairs_ids_by_name_when_absent() -> None:
    contents = [
        *USER,
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "read", "args": {"path": "a"}}},
                {"functionCall": {"name": "read", "args": {"path": "b"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "read", "response": {"output": "A"}}},
                {"functionResponse": {"name": "read", "response": {"lines": 2}}},
                {"text": "go on"},
            ],
        },
    ]
    request, _ = parse({"contents": contents})
    assistant, first, second, user = request.messages[1:]
    ids = [c["id"] for c in assistant.tool_calls or []]
    assert len(set(ids)) == 2
    assert json.loads(assistant.tool_calls[1]["function"]["arguments"]) == {"path": "b"}  # type: ignore[index]
    assert (first.role, first.tool_call_id, first.content) == ("tool", ids[0], "A")
    assert (second.tool_call_id, json.loads(second.content)) == (ids[1], {"lines": 2})  # type: ignore[arg-type]
    assert (user.role, user.content) == ("user", "go on")


def test_explicit_ids_and_errors_and_thoughts() -> None:
    contents = [
        *USER,
        {
            "role": "model",
            "parts": [
                {"text": "let me think", "thought": True, "thoughtSignature": "sig"},
                {"functionCall": {"id": "c1", "name": "run", "args": {}}},
            ],
        },
        {"parts": [{"functionResponse": {"id": "c1", "name": "run", "response": {"error": "x"}}}]},
    ]
    request, _ = parse({"contents": contents})
    model, result = request.messages[1:]
    assert model.reasoning_content == "let me think" and model.thinking is None
    assert (result.tool_call_id, result.is_error) == ("c1", True)


def test_inline_data_becomes_image_and_file_parts() -> None:
    parts = [
        {"text": "what is this"},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"inline_data": {"mime_type": "application/pdf", "data": "BBBB"}},
    ]
    request, _ = parse({"contents": [{"role": "user", "parts": parts}]})
    content = request.messages[0].content
    assert isinstance(content, list)
    assert content[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert content[2]["file"]["file_data"] == "data:application/pdf;base64,BBBB"


def test_tools_schema_tool_config_and_dropped_builtins() -> None:
    tools = [
        {
            "functionDeclarations": [
                {
                    "name": "get",
                    "description": "Get it",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"n": {"type": "INTEGER", "nullable": True}},
                        "required": ["n"],
                    },
                },
                {"name": "raw", "parametersJsonSchema": {"type": "object", "x-keep": 1}},
            ]
        },
        {"googleSearch": {}},
    ]
    config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get"]}}
    request, call = parse({"contents": USER, "tools": tools, "toolConfig": config})
    get, raw = request.tools or []
    assert get["function"]["parameters"] == {
        "type": "object",
        "properties": {"n": {"type": ["integer", "null"]}},
        "required": ["n"],
    }
    assert get["function"]["description"] == "Get it"
    assert raw["function"]["parameters"] == {"type": "object", "x-keep": 1}
    assert request.tool_choice == {"type": "function", "function": {"name": "get"}}
    assert call.dropped == ["googleSearch"]
    for mode, want in (("NONE", "none"), ("AUTO", "auto"), ("ANY", "required")):
        cfg = {"functionCallingConfig": {"mode": mode}}
        assert parse({"contents": USER, "tools": tools, "toolConfig": cfg})[0].tool_choice == want


def test_response_schema_becomes_json_schema_format() -> None:
    schema = {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": "3"}
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    request, _ = parse({"contents": USER, "generationConfig": config})
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {
            "name": "response",
            "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
    }
    config = {"responseMimeType": "application/json"}
    plain, _ = parse({"contents": USER, "generationConfig": config})
    assert plain.response_format == {"type": "json_object"}
    as_json = {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}}
    direct, _ = parse({"contents": USER, "generationConfig": as_json})
    assert direct.response_format["json_schema"]["schema"] == {"type": "object"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("thinking", "want", "effort"),
    [
        ({"thinkingBudget": 0}, ThinkingConfig("disabled"), None),
        ({"thinkingBudget": 2048}, ThinkingConfig("enabled", 2048), None),
        ({"thinkingBudget": -1}, ThinkingConfig("enabled"), None),
        ({"thinkingLevel": "LOW"}, None, "low"),
        ({"includeThoughts": True}, None, None),
    ],
)
def test_thinking_config(thinking: dict[str, Any], want: Any, effort: str | None) -> None:
    config = {"thinkingConfig": thinking, "candidateCount": 2}
    request, call = parse({"contents": USER, "generationConfig": config})
    assert (request.thinking, request.reasoning_effort, request.n) == (want, effort, 2)
    assert call.include_thoughts == bool(thinking.get("includeThoughts"))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "`contents`"),
        ({"contents": []}, "`contents`"),
        ({"contents": [{"role": "system", "parts": []}]}, "role must be user or model"),
        ({"contents": [{"parts": [{"executableCode": {}}]}]}, "unsupported part"),
        ({"contents": USER, "generationConfig": {"temperature": 9}}, "temperature"),
        ({"contents": USER, "generationConfig": {"candidateCount": 99}}, "candidateCount"),
        ({"contents": USER, "generationConfig": {"responseMimeType": "text/x.enum"}}, "x.enum"),
        (
            {"contents": USER, "generationConfig": {"thinkingConfig": {"thinkingBudget": -5}}},
            "thinkingBudget",
        ),
        (
            {
                "contents": [
                    {"parts": [{"fileData": {"fileUri": "gs://a", "mimeType": "video/mp4"}}]}
                ]
            },
            "fileData",
        ),
    ],
)
def test_bad_bodies_are_400s_that_say_why(body: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse(body)
    assert says in err.value.message


def test_json_schema_leaves_json_schema_alone() -> None:
    assert json_schema({"type": "string", "enum": ["a"]}) == {"type": "string", "enum": ["a"]}
    assert json_schema(True) is True
