"""Every door answers malformed bodies with a 4xx in its own error shape, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import http_raw
from tokenport.lab.fake import FakeUpstream

DOORS = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/responses",
    "/v1/completions",
    "/v1/embeddings",
]
MODEL = "fakeoa/fake-model"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, catalog: Any) -> Any:
    from conftest import fake_settings, start_gateway

    fake = FakeUpstream.start_in_thread()
    running = start_gateway(
        fake_settings(tmp_path_factory.mktemp("doors"), {"fakeoa": fake}), catalog=catalog
    )
    yield running
    running.stop()
    fake.stop()


def _check_shape(path: str, status: int, raw: bytes) -> dict[str, Any]:
    assert 400 <= status < 500, (path, status, raw[:300])
    body = json.loads(raw)
    if path == "/v1/messages":
        assert body["type"] == "error" and body["error"]["type"], body
        return dict(body["error"])
    assert body["error"]["message"] and body["error"]["type"], body
    return dict(body["error"])


def nested(depth: int) -> bytes:
    return b'{"model": "m", "messages": ' + b"[" * depth + b"]" * depth + b"}"


BAD_BODIES: list[tuple[bytes, str]] = [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'"just a string"', "JSON object"),
    (b"\xff\xfe{}", ""),  # invalid UTF-8
    (nested(1000), "deeper"),
    (b'{"model": 5}', ""),
    (b'{"model": "m", "max_tokens": 9223372036854775808, "messages": []}', ""),
]


@pytest.mark.parametrize("path", DOORS)
@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
def test_malformed_bodies_are_4xx_in_the_doors_shape(
    gw: Any, path: str, body: bytes, needle: str
) -> None:
    status, _, raw = http_raw("POST", gw.base_url + path, body)
    error = _check_shape(path, status, raw)
    assert needle in error["message"], error


def test_huge_numbers_are_400_not_overflow(gw: Any) -> None:
    for path, body in [
        (
            "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2**63},
        ),
        (
            "/v1/messages",
            {"model": MODEL, "max_tokens": 2**63, "messages": [{"role": "user", "content": "x"}]},
        ),
        ("/v1/completions", {"model": MODEL, "prompt": "x", "max_tokens": 2**64}),
        (
            "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 1e308},
        ),
    ]:
        status, _, raw = http_raw("POST", gw.base_url + path, body)
        _check_shape(path, status, raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    [
        "model",
        "messages",
        "input",
        "prompt",
        "system",
        "tools",
        "tool_choice",
        "max_tokens",
        "max_output_tokens",
        "stream",
        "temperature",
        "instructions",
        "thinking",
        "n",
        "stop",
        "previous_response_id",
        "text",
        "reasoning",
        "response_format",
        "metadata",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(DOORS),
    body=st.dictionaries(fields, json_values, max_size=6),
    routable=st.booleans(),
)
def test_fuzzed_bodies_never_500(gw: Any, path: str, body: dict[str, Any], routable: bool) -> None:
    # A real model takes the body through translation to the fake upstream and back.
    body["model"] = MODEL if routable else body.get("model", "no-such-model")
    body.pop("stream", None)
    status, _, raw = http_raw("POST", gw.base_url + path, body, timeout=10)
    assert status < 500, (path, body, raw[:300])
    if status >= 400:
        _check_shape(path, status, raw)
