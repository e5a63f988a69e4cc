"""Plugins through a running gateway: the official openai SDK and raw HTTP as clients, a fake
OpenAI-shaped upstream on loopback. The upstream sees what the plugin made of the request,
the client sees what it made of the answer, and the generation record says so."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from _helpers import http_json
from _pdf import pdf_data_url
from tokenport.lab.fake import FakeUpstream, Script

MODEL = "fakeoa/fake-model"
SCHEMA = {
    "type": "object",
    "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
    "required": ["total", "currency"],
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "bill", "schema": SCHEMA}}


@pytest.fixture
def gw(fake: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake})


def generation(gw: Any, gen_id: str) -> dict[str, Any]:
    time.sleep(0.05)
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}")
    assert status == 200, body
    return dict(body["data"])


def test_response_healing_repairs_and_says_so(gw: Any, fake: FakeUpstream) -> None:
    fake.push(Script(text='Here it is:\n```json\n{"total": 99.5, "currency": "EUR",}\n```'))
    resp = gw.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "the bill as JSON"}],
        response_format=JSON_SCHEMA,  # type: ignore[arg-type]
        extra_body={"plugins": [{"id": "response-healing"}]},
    )
    assert json.loads(resp.choices[0].message.content or "") == {"total": 99.5, "currency": "EUR"}
    assert resp.model_extra is not None
    assert resp.model_extra["plugins"] == [{"id": "response-healing", "healed": True}]
    assert "plugins" not in fake.last_request.body  # OpenRouter's field, never forwarded
    assert generation(gw, resp.id)["plugins"] == [{"id": "response-healing", "healed": True}]


def test_response_healing_leaves_a_valid_answer(gw: Any, fake: FakeUpstream) -> None:
    fake.push(Script(text='{"total": 1, "currency": "USD"}'))
    resp = gw.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "the bill as JSON"}],
        response_format=JSON_SCHEMA,  # type: ignore[arg-type]
        extra_body={"plugins": [{"id": "response-healing"}]},
    )
    assert resp.choices[0].message.content == '{"total": 1, "currency": "USD"}'
    assert generation(gw, resp.id)["plugins"] == [{"id": "response-healing", "healed": False}]


def test_file_parser_sends_the_model_text_and_counts_pages(gw: Any, fake: FakeUpstream) -> None:
    pdf = pdf_data_url(["Invoice 4417 for Nordlys AS", "Total due: 99.50 EUR"])
    resp = gw.client().chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the total?"},
                    {"type": "file", "file": {"filename": "invoice.pdf", "file_data": pdf}},
                ],
            }
        ],
        extra_body={"plugins": [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}]},
    )
    sent = fake.last_request.body["messages"][0]["content"]
    assert [p["type"] for p in sent] == ["text", "text"]
    assert "Invoice 4417 for Nordlys AS" in sent[1]["text"] and "99.50 EUR" in sent[1]["text"]
    assert pdf not in json.dumps(fake.last_request.body)
    used = {"id": "file-parser", "pages": 2, "cost": 0.0}
    assert resp.model_extra is not None and resp.model_extra["plugins"] == [used]
    assert generation(gw, resp.id)["plugins"] == [used]


def test_unknown_plugin_is_a_400_naming_the_known_ones(gw: Any, fake: FakeUpstream) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as caught:
        gw.client().chat.completions.create(
            model=MODEL, messages=messages, extra_body={"plugins": [{"id": "web"}]}
        )
    body = {"model": MODEL, "messages": messages, "plugins": [{"id": "web"}]}
    assert "file-parser" in str(caught.value) and "response-healing" in str(caught.value)
    status, err = http_json("POST", gw.base_url + "/api/v1/chat/completions", body)
    assert status == 400 and err["error"]["code"] == 400
    assert err["error"]["metadata"]["allowed"] == ["file-parser", "response-healing"]
    assert len(fake.requests) == 0  # refused before any upstream call


def test_no_plugins_no_trace(gw: Any, fake: FakeUpstream) -> None:
    resp = gw.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.model_extra is None or "plugins" not in resp.model_extra
    assert generation(gw, resp.id)["plugins"] is None
