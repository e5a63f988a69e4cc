"""The dashboard in headless Chromium where keys are required: the browser asks for a key,
the public view draws only the public sections, the admin view draws all, and the page's
Content-Security-Policy blocks nothing it needs (a violation is a console error)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json, missing, require_module, wait_for_dashboard
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.timeout(120)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ADMIN = "admin-secret-for-dashboard-tests"
# Dear enough that each key's spend shows at the dashboard's 4 decimals.
DEAR = {"models": [{"id": "fake-model", "input_price": 5000.0, "output_price": 5000.0}]}
PUBLIC = ("chart-author-area", "chart-country-area", "chart-author-share", "chart-country-share")
PRIVATE = ("chart-geography", "chart-spend-keys")


def _browser() -> Any:
    sync_api = require_module("playwright.sync_api", "pip install playwright")
    if not Path(CHROMIUM).exists():
        missing("apt-get install chromium (Debian's /usr/bin/chromium)")
    return sync_api


def _traffic(gw: Any) -> None:
    for name in ("alice", "bob"):
        body = {"name": name, "country": "DE"}
        status, out = http_json("POST", gw.base_url + "/api/v1/keys", body, ADMIN)
        assert status == 201
        for _ in range(3):
            status, _ = http_json(
                "POST",
                gw.base_url + "/v1/chat/completions",
                {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "hi"}]},
                out["key"],
                headers={"X-Title": f"{name}-app"},
            )
            assert status == 200
    deadline = time.monotonic() + 10
    while (got := http_json("GET", gw.base_url + "/api/v1/rankings?by=model", None, ADMIN)[1]).get(
        "empty", got
    ):
        assert time.monotonic() < deadline, got
        time.sleep(0.05)


def _view(
    gw: Any, password: str | None, path: str = "/dashboard"
) -> tuple[int, str, dict[str, int], list[str], str]:
    sync_api = _browser()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            creds = {"username": "me", "password": password} if password else None
            context = browser.new_context(http_credentials=creds)
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            resp = page.goto(gw.base_url + path)
            if resp.status != 200:
                return resp.status, "", {}, errors, ""
            status = wait_for_dashboard(page)
            drawn = page.evaluate("window.__tokenport.charts")
            text = page.inner_text("body")
        finally:
            browser.close()
    return resp.status, status, drawn, errors, text


def test_dashboard_public_and_admin_views(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        require_keys=True,
        public_rankings=["model", "author", "country"],
        fakeoa_extra=DEAR,
    )
    _traffic(gw)
    code, status, drawn, errors, text = _view(gw, None)
    assert code == 200 and status == "ready" and errors == []
    assert all(drawn.get(c, 0) > 0 for c in PUBLIC), drawn
    assert not any(c in drawn for c in PRIVATE), drawn
    assert "alice" not in text and "bob-app" not in text  # no key or app names in public
    assert "Sign in with a key" in text
    # the sign-in link asks the browser for the key; then every section is drawn
    code, status, drawn, errors, text = _view(gw, ADMIN, "/dashboard?login=1")
    assert code == 200 and status == "ready" and errors == []
    assert all(drawn.get(c, 0) > 0 for c in PUBLIC + PRIVATE), sorted(drawn.items())
    assert "alice" in text and "bob-app" in text and "Sign in" not in text


def test_dashboard_asks_for_a_key_when_nothing_is_public(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True, fakeoa_extra=DEAR
    )
    _traffic(gw)
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(gw.base_url + "/dashboard", timeout=10)
    assert refused.value.code == 401  # and the challenge makes a browser ask for the key:
    assert refused.value.headers["WWW-Authenticate"].startswith("Basic")
    code, status, drawn, errors, _ = _view(gw, ADMIN)
    assert code == 200 and status == "ready" and errors == []
    assert all(drawn.get(c, 0) > 0 for c in PUBLIC + PRIVATE), sorted(drawn.items())
