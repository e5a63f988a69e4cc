"""response-healing: what it repairs, what it leaves, and that the schema decides."""

from __future__ import annotations

import json
from typing import Any

from tokenport.plugins import healing
from tokenport.values import ChatRequest, ChatResponse, Choice, Message

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
    "required": ["city", "people"],
}


def request(fmt: dict[str, Any] | None) -> ChatRequest:
    return ChatRequest("m", [Message("user", "hi")], response_format=fmt)


def answer(text: str) -> ChatResponse:
    return ChatResponse("gen-1", "m", 0, [Choice(0, Message("assistant", text), "stop")])


def schema_format() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "town", "schema": SCHEMA}}


def test_broken_json_is_repaired_to_what_the_schema_wants() -> None:
    resp = answer('```json\n{"city": "Oslo", "people": 709000,}\n```')
    assert healing.heal(request(schema_format()), resp) is True
    assert json.loads(str(resp.choices[0].message.content)) == {"city": "Oslo", "people": 709000}


def test_unclosed_object_and_single_quotes_are_repaired() -> None:
    resp = answer("{'city': 'Bergen', 'people': 291000")
    assert healing.heal(request({"type": "json_object"}), resp) is True
    assert json.loads(str(resp.choices[0].message.content))["city"] == "Bergen"


def test_valid_answer_is_left_exactly_as_it_is() -> None:
    text = '{"city": "Oslo",   "people": 1}'
    resp = answer(text)
    assert healing.heal(request(schema_format()), resp) is False
    assert resp.choices[0].message.content == text


def test_a_repair_that_still_breaks_the_schema_is_not_applied() -> None:
    text = '{"city": "Oslo", "people": "many",'
    resp = answer(text)
    assert healing.heal(request(schema_format()), resp) is False
    assert resp.choices[0].message.content == text


def test_prose_without_json_is_not_healed() -> None:
    resp = answer("Sorry, I cannot answer that.")
    assert healing.heal(request({"type": "json_object"}), resp) is False


def test_only_json_formats_want_healing() -> None:
    assert healing.wants_json(request({"type": "json_object"}))
    assert healing.wants_json(request(schema_format()))
    assert not healing.wants_json(request({"type": "text"}))
    assert not healing.wants_json(request(None))


def test_an_invalid_schema_falls_back_to_well_formed_json() -> None:
    fmt = {"type": "json_schema", "json_schema": {"schema": {"type": 12}}}
    resp = answer('{"a": 1')
    assert healing.heal(request(fmt), resp) is True
    assert json.loads(str(resp.choices[0].message.content)) == {"a": 1}
