"""The abuse page in headless Chromium: it draws the flagged network with its evidence, lists
actions, reverses one with its button, and its Content-Security-Policy blocks nothing it
needs (a violation is a console error)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json, missing, require_module, wait_for_dashboard
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.timeout(120)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ADMIN = "admin-secret-for-abuse-page"
SUBJECTS = ["entropy", "integrals", "enzymes", "tort law", "black holes", "bond pricing",
            "recursion", "the cold war", "free will", "monetary policy"]  # fmt: skip


def _traffic(gw: Any) -> str:
    rng = random.Random(4)
    url = gw.base_url + "/v1/chat/completions"
    blocked = ""
    t0 = 1_770_000_000.0
    for k in range(10):
        made = http_json("POST", gw.base_url + "/api/v1/keys", {"name": f"h{k}"}, ADMIN,
                         {"X-Tokenport-Sim-Time": str(t0 + k)})  # fmt: skip
        secret = made[1]["key"]
        blocked = blocked or made[1]["data"]["id"]
        for i in range(14):
            body = {
                "model": "fakeoa/fake-model",
                "max_tokens": 8000,
                "messages": [
                    {
                        "role": "user",
                        "content": f"Explain {rng.choice(SUBJECTS)} at a graduate "
                        f"level, case {i}. Think step by step and show all of your reasoning.",
                    }
                ],
            }
            headers = {"X-Tokenport-Sim-Time": str(t0 + 600 + k * 5 + i * 60),
                       "X-Forwarded-For": f"45.{rng.randrange(256)}.{rng.randrange(256)}.9",
                       "User-Agent": "harvest/1.0"}  # fmt: skip
            assert http_json("POST", url, body, secret, headers)[0] == 200
    deadline = time.monotonic() + 10
    while gw.state.ledger.backlog():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    status, _ = http_json("POST", gw.base_url + "/api/v1/abuse/actions",
                          {"key_id": blocked, "action": "block"}, ADMIN)  # fmt: skip
    assert status == 201
    return blocked


def test_abuse_page_shows_networks_and_reverses(fake: FakeUpstream, gateway_factory: Any) -> None:
    sync_api = require_module("playwright.sync_api", "pip install playwright")
    if not Path(CHROMIUM).exists():
        missing("apt-get install chromium (Debian's /usr/bin/chromium)")
    gw = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        require_keys=True,
        simulation=True,
        trusted_proxies=["127.0.0.1"],
    )
    blocked = _traffic(gw)
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:  # the browser is asked for the key
        urllib.request.urlopen(gw.base_url + "/dashboard/abuse", timeout=10)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Basic")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(http_credentials={"username": "a", "password": ADMIN})
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            assert page.goto(gw.base_url + "/dashboard/abuse").status == 200
            status = wait_for_dashboard(page)
            assert status == "ready", (page.inner_text("#status"), errors)
            report = page.evaluate("window.__tokenport")
            assert report["networks"] == 1 and report["actions"] == 1
            text = page.inner_text("#networks")
            assert "10 keys" in text and "near-duplicate prompts" in text
            page.click("button[data-action]")
            deadline = time.monotonic() + 10
            while "reversed by admin" not in page.inner_text("#table-actions"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            browser.close()
    assert errors == []
    _, log = http_json("GET", gw.base_url + "/api/v1/abuse/actions", token=ADMIN)
    assert log["data"][0]["key_id"] == blocked and log["data"][0]["reversed_by"] == "admin"
