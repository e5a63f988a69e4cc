"""The one error boundary answers in two shapes: OpenAI's on `/v1/*` (a string `code`, as the
openai SDKs parse it) and OpenRouter's on `/api/v1/*` (the status as an integer `code`,
details under `metadata`, as OpenRouter's SDKs parse it). Both through a running gateway."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from _helpers import http_json
from tokenport.api.errors import openrouter_payload, payload_for
from tokenport.errors import BadRequest, ModelNotFound, RateLimited
from tokenport.lab.fake import FakeUpstream


def test_openrouter_shape_carries_the_openai_details_under_metadata() -> None:
    exc = BadRequest("bad region", param="region", allowed=["us", "eu"])
    err = openrouter_payload(exc)["error"]
    assert err["code"] == 400 and err["message"] == "bad region"
    assert err["metadata"]["code"] == "invalid_request"
    assert err["metadata"]["allowed"] == ["us", "eu"]
    assert err["metadata"]["reason"] == "invalid_request" and err["metadata"]["retryable"] is False
    assert err["param"] == "region" and err["allowed"] == ["us", "eu"]
    assert openrouter_payload(RateLimited("slow down", 3.0))["error"]["metadata"]["retryable"]


def test_the_path_picks_the_shape() -> None:
    exc = ModelNotFound("nope", [])
    assert payload_for("/api/v1/models/nope", exc)["error"]["code"] == 404
    assert payload_for("/v1/models/nope", exc)["error"]["code"] == "model_not_found"


@pytest.fixture
def gw(fake: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory({"fakeoa": fake})


def test_v1_keeps_openais_shape_for_the_openai_sdk(gw: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        gw.client().chat.completions.create(
            model="nobody/nothing", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"
    for method, path, req in [
        ("GET", "/v1/models/nobody/nothing", None),
        ("POST", "/v1/embeddings", {"model": "nobody/nothing", "input": "hi"}),
    ]:
        status, body = http_json(method, gw.base_url + path, req)
        assert status == 404 and body["error"]["code"] == "model_not_found", path
        assert body["error"]["type"] == "not_found_error", path


def test_api_v1_answers_in_openrouters_shape(gw: Any) -> None:
    chat = {"model": "nobody/nothing", "messages": [{"role": "user", "content": "hi"}]}
    for method, path, body in [
        ("POST", "/api/v1/chat/completions", chat),
        ("POST", "/api/v1/responses", {"model": "nobody/nothing", "input": "hi"}),
        ("POST", "/api/v1/embeddings", {"model": "nobody/nothing", "input": "hi"}),
        ("GET", "/api/v1/models/nobody/nothing", None),
        ("GET", "/api/v1/model/nobody/nothing", None),
        ("GET", "/api/v1/no/such/route", None),
    ]:
        status, err = http_json(method, gw.base_url + path, body)
        assert status == 404, (path, err)
        assert err["error"]["code"] == 404 and isinstance(err["error"]["message"], str), path
        assert isinstance(err["error"]["metadata"], dict), path


def test_the_catch_all_no_longer_swallows_count_and_endpoints(gw: Any) -> None:
    status, count = http_json("GET", gw.base_url + "/api/v1/models/count")
    assert status == 200 and count["data"]["count"] > 0
    status, eps = http_json("GET", gw.base_url + "/api/v1/models/tokenport/fake-model/endpoints")
    assert status == 200 and [e["tag"] for e in eps["data"]["endpoints"]] == ["fakeoa"]
    status, one = http_json("GET", gw.base_url + "/api/v1/models/fakeoa/fake-model")
    assert status == 200 and one["id"] == "fakeoa/fake-model"  # a model id still resolves
