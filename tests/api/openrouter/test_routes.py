"""OpenRouter's read endpoints through a running gateway: the values, not only the shapes
(the SDK conformance test checks the shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import http_json, wait_until
from tokenport.lab.fake import FakeUpstream

ADMIN = "admin-key-for-the-openrouter-routes-0123456789"


@pytest.fixture
def gw(fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any) -> Any:
    return gateway_factory(
        {"fakeoa": fake, "antx": fake2}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True
    )


def new_key(gw: Any, limit: float | None) -> tuple[str, str]:
    body: dict[str, Any] = {"name": "or"} | ({"limit": limit} if limit is not None else {})
    status, made = http_json("POST", gw.base_url + "/api/v1/keys", body, ADMIN)
    assert status == 201, made
    return str(made["key"]), str(made["data"]["id"])


def test_key_spend_windows_come_from_the_ledger(gw: Any) -> None:
    secret, key_id = new_key(gw, 2.0)
    chat = {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "hello"}]}
    assert http_json("POST", gw.base_url + "/v1/chat/completions", chat, secret)[0] == 200

    def key() -> dict[str, Any]:
        return dict(http_json("GET", gw.base_url + "/api/v1/key", token=secret)[1]["data"])

    wait_until(lambda: key()["usage_monthly"] > 0, 15, "the spend in the ledger's rollups")
    data = key()
    assert data["usage_daily"] == data["usage_weekly"] == data["usage_monthly"]
    assert data["usage_monthly"] == pytest.approx(data["usage"])
    assert data["effective_budget"]["spend_usd"] == pytest.approx(data["usage"])
    credits = http_json("GET", gw.base_url + "/api/v1/credits", token=secret)[1]["data"]
    assert credits["total_credits"] == 2.0 and credits["total_usage"] == pytest.approx(
        data["usage"]
    )
    listed = http_json("GET", gw.base_url + "/api/v1/keys", token=ADMIN)[1]["data"]
    mine = next(k for k in listed if k["hash"] == key_id)
    assert mine["usage_monthly"] == pytest.approx(data["usage_monthly"]) and mine["id"] == key_id


def test_key_and_credits_need_a_key(gw: Any) -> None:
    for path in ("/api/v1/key", "/api/v1/credits"):
        status, err = http_json("GET", gw.base_url + path)
        assert status == 401 and err["error"]["code"] == 401, path


def test_endpoints_list_each_configured_provider(gw: Any) -> None:
    secret, _ = new_key(gw, None)
    url = gw.base_url + "/api/v1/models/tokenport/fake-model/endpoints"
    status, body = http_json("GET", url, token=secret)
    assert status == 200, body
    data = body["data"]
    assert data["id"] == "tokenport/fake-model"
    by_tag = {e["tag"]: e for e in data["endpoints"]}
    assert set(by_tag) == {"fakeoa", "antx"}
    assert by_tag["fakeoa"]["tokenport_model"] == "fakeoa/fake-model"
    assert by_tag["fakeoa"]["context_length"] == 8192 and by_tag["fakeoa"]["status"] == 0
    # a tokenport id finds its canonical model too
    same = http_json(
        "GET", gw.base_url + "/api/v1/models/fakeoa/fake-model/endpoints", token=secret
    )
    assert same[1]["data"]["id"] == "tokenport/fake-model"
    status, one = http_json("GET", gw.base_url + "/api/v1/model/tokenport/fake-model", token=secret)
    assert status == 200 and one["data"]["canonical_slug"] == "tokenport/fake-model"


def test_providers_and_model_lists(gw: Any) -> None:
    secret, _ = new_key(gw, None)
    providers = http_json("GET", gw.base_url + "/api/v1/providers", token=secret)[1]["data"]
    configured = {p["slug"] for p in providers if p["configured"]}
    assert configured == {"fakeoa", "antx"} and len(providers) > len(configured)
    mine = http_json("GET", gw.base_url + "/api/v1/models/user", token=secret)[1]
    assert {m["provider"] for m in mine["data"]} == {"fakeoa", "antx"}
    assert mine["total_count"] == len(mine["data"]) and mine["links"] == {"next": None}
    count = http_json("GET", gw.base_url + "/api/v1/models/count", token=secret)[1]["data"]
    every = http_json("GET", gw.base_url + "/api/v1/models", token=secret)[1]
    assert count["count"] == every["total_count"] == len(every["data"])
    embeddings = http_json("GET", gw.base_url + "/api/v1/embeddings/models", token=secret)[1]
    assert embeddings["data"] and all(m["canonical_slug"] for m in embeddings["data"])
