"""Hostile or careless input gets a clear 4xx, never a 500, and answers leak nothing of the
operator's network: rankings times, admin amounts, unreachable providers, dashboard headers."""

from __future__ import annotations

import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from _helpers import free_port, http_json
from tokenport.lab.fake import FakeUpstream

ADMIN = "admin-secret-for-robustness-tests"


@pytest.mark.parametrize("end", ["nan", "NaN", "inf", "-inf", "1e20", "-5", "1e308", "9999-12-31"])
def test_rankings_times_out_of_range_are_a_clear_400(
    end: str, fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake})
    status, body = http_json("GET", f"{gw.base_url}/api/v1/rankings?end={end}")
    assert status == 400, body
    assert body["error"]["param"] == "end" and "1970 to 8999" in body["error"]["message"]


def test_rankings_accept_the_edges_of_the_range(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake})
    for end in ("0", "8999-12-30", "1e11"):
        for window in ("day", "week", "month"):
            for mode in ("rolling", "calendar"):
                query = f"end={end}&window={window}&mode={mode}&periods=52"
                status, _ = http_json("GET", f"{gw.base_url}/api/v1/rankings?{query}")
                assert status == 200, query


@pytest.mark.parametrize(
    "body",
    [
        {"name": "big", "limit": 1e12},
        {"name": "huge", "limit": 1e308},
        {"name": "neg", "limit": -1},
        {"name": "rpm", "rpm": 2**63},
        {"name": "tpm", "tpm": 10**30},
        {"name": "days", "expires_in_days": 1e300},
        {"name": "x" * 1000},
    ],
)
def test_admin_amounts_out_of_range_are_a_400(
    body: dict[str, Any], fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", body, ADMIN)
    assert status == 400, out


def test_admin_top_up_past_the_ceiling_is_a_400(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "k", "limit": 5}, ADMIN)
    assert status == 201
    top_up = f"{gw.base_url}/api/v1/keys/{out['data']['id']}/top-up"
    assert http_json("POST", top_up, {"amount": 1e12}, ADMIN)[0] == 400
    assert http_json("POST", top_up, {"amount": 6e8}, ADMIN)[0] == 200
    assert http_json("POST", top_up, {"amount": 6e8}, ADMIN)[0] == 400  # the sum is too
    status, out = http_json("POST", top_up, {"amount": 1}, ADMIN)
    assert status == 200 and out["data"]["limit"] == pytest.approx(6e8 + 6)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_unreachable_provider_does_not_show_its_address(gateway_factory: Any, host: str) -> None:
    port = free_port()  # nothing listens here
    down = SimpleNamespace(base_url=f"http://{host}:{port}")
    gw = gateway_factory({"fakeoa": down})
    status, body = http_json(
        "POST",
        gw.base_url + "/v1/chat/completions",
        {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert status in (502, 503), body
    text = str(body)
    assert "cannot connect" in text and "refused" in text  # still says why
    assert host not in text and str(port) not in text, text


def test_dashboard_and_its_files_carry_security_headers(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake})
    for path in ("/dashboard", "/dashboard/app/dashboard.js", "/dashboard/static/chart.umd.min.js"):
        with urllib.request.urlopen(gw.base_url + path, timeout=10) as r:
            headers = r.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(gw.base_url + "/dashboard/app/nope.js", timeout=10)
    assert missing.value.code == 404
