"""schemathesis against the gateway's own `/openapi.json`: every operation, generated from
the document, as an anonymous caller and as the admin; no answer may be a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from conftest import fake_settings, start_gateway
from tokenport.lab.fake import FakeUpstream, Script

ADMIN = "admin-key-for-the-fuzzer-0123456789"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, catalog: Any) -> Iterator[Any]:
    fake = FakeUpstream.start_in_thread(Script(text="fuzzed answer"))
    settings_ = fake_settings(tmp_path_factory.mktemp("fuzz"), {"fakeoa": fake, "antx": fake})
    gw = start_gateway(settings_, env={"TOKENPORT_ADMIN_KEY": ADMIN}, catalog=catalog)
    yield gw
    gw.stop()
    fake.stop()


@pytest.fixture(scope="module")
def api_schema(running: Any) -> Any:
    return schemathesis.openapi.from_url(running.base_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def test_the_document_names_every_door(running: Any) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(running.base_url + "/openapi.json") as r:
        doc = json.loads(r.read())
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/embeddings"):
        assert "post" in doc["paths"][path]


def _call(case: Any, running: Any, headers: dict[str, str]) -> None:
    if isinstance(case.body, dict):
        case.body.pop("stream", None)  # a stream's status is sent before its content
    case.call_and_validate(
        base_url=running.base_url, headers=headers, checks=[not_a_server_error], timeout=20
    )


FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@schema.parametrize()
@FUZZ
def test_no_operation_answers_5xx_anonymously(case: Any, running: Any) -> None:
    _call(case, running, {})


@schema.parametrize()
@FUZZ
def test_no_operation_answers_5xx_to_the_admin(case: Any, running: Any) -> None:
    _call(case, running, {"Authorization": f"Bearer {ADMIN}"})
