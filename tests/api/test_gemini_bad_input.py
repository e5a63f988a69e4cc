"""The Gemini door answers malformed and fuzzed bodies with a 4xx in Google's error shape,
never a 500 (as tests/api/test_doors_bad_input.py holds the other doors to)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import http_raw
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.slow
MODEL = "fakeoa/fake-model"
ACTIONS = ["generateContent", "streamGenerateContent?alt=sse", "countTokens"]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, catalog: Any) -> Iterator[Any]:
    from conftest import fake_settings, start_gateway

    fake = FakeUpstream.start_in_thread()
    running = start_gateway(
        fake_settings(tmp_path_factory.mktemp("gemini"), {"fakeoa": fake}), catalog=catalog
    )
    yield running
    running.stop()
    fake.stop()


def check_shape(status: int, raw: bytes) -> dict[str, Any]:
    assert 400 <= status < 500, (status, raw[:300])
    error = json.loads(raw)["error"]
    assert error["code"] == status and error["message"] and error["status"].isupper(), error
    return dict(error)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"text"', b"\xff\xfe{}", b'{"contents": ' + b"[" * 500 + b"]" * 500 + b"}"],
)
def test_malformed_bodies(gw: Any, action: str, body: bytes) -> None:
    status, _, raw = http_raw("POST", f"{gw.base_url}/v1beta/models/{MODEL}:{action}", body)
    check_shape(status, raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
part_keys = st.sampled_from(
    ["text", "thought", "inlineData", "fileData", "functionCall", "functionResponse", "mimeType"]
)
parts = st.lists(st.dictionaries(part_keys, json_values, max_size=3), max_size=3)
turns = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "model", "x"]), "parts": parts}),
    min_size=1,
    max_size=3,
)
config_keys = st.sampled_from(
    [
        "temperature",
        "topP",
        "topK",
        "maxOutputTokens",
        "stopSequences",
        "candidateCount",
        "responseMimeType",
        "responseSchema",
        "thinkingConfig",
        "seed",
    ]
)
bodies = st.fixed_dictionaries(
    {"contents": turns | json_values},
    optional={
        "systemInstruction": json_values,
        "tools": json_values
        | st.lists(st.fixed_dictionaries({"functionDeclarations": json_values}), max_size=2),
        "toolConfig": json_values,
        "generationConfig": st.dictionaries(config_keys, json_values, max_size=4),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, action=st.sampled_from(["generateContent", "countTokens"]))
def test_fuzzed_bodies_never_500(gw: Any, body: dict[str, Any], action: str) -> None:
    url = f"{gw.base_url}/v1beta/models/{MODEL}:{action}"
    status, _, raw = http_raw("POST", url, body, timeout=10)
    assert status < 500, (body, raw[:300])
    if status >= 400:
        check_shape(status, raw)
