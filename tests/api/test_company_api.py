"""The management API end to end (issue 23, §1 and §3), through a real gateway with the
official `openai` SDK as the inference client: workspaces, members and roles, management
keys apart from inference keys, OpenRouter's key fields, budgets with the 402 that names
them, activity, the append-only audit log, and budget alerts by a signed, retried webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import openai
import pytest

from _helpers import http_json, http_raw, wait_until
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.timeout(90)
ADMIN = "admin-secret-company-0123456789"
MODEL = "fakeoa/fake-model"


class Hook:
    """A webhook receiver on loopback: answers 500 to the first POST, then 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(hook.posts) == 1 else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


@pytest.fixture
def gw(fake: FakeUpstream, gateway_factory: Any, hook: Hook) -> Any:
    return gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN, "TOKENPORT_ALERT_WEBHOOK_SECRET": "whsec"},
        company={"alert_webhook_url": hook.url, "alert_poll_s": 0.1, "budget_refresh_s": 0.2},
    )


def call(gw: Any, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    return http_json(method, gw.base_url + path, body, token)


def ok(gw: Any, method: str, path: str, token: str, body: Any = None) -> Any:
    status, out = call(gw, method, path, token, body)
    assert status in (200, 201), (status, out)
    return out


def chat(gw: Any, secret: str) -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=secret, max_retries=0)
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )


def _company(gw: Any) -> dict[str, str]:
    """Workspaces acme and beta; acme's admin, member and viewer with management keys."""
    ok(gw, "POST", "/api/v1/workspaces", ADMIN, {"id": "acme", "name": "Acme"})
    ok(gw, "POST", "/api/v1/workspaces", ADMIN, {"id": "beta", "name": "Beta"})
    out: dict[str, str] = {}
    for role in ("admin", "member", "viewer"):
        m = ok(
            gw,
            "POST",
            "/api/v1/workspaces/acme/members",
            ADMIN,
            {"email": f"{role}@acme.test", "role": role},
        )["data"]
        out[role + "_id"] = m["id"]
        key = ok(
            gw,
            "POST",
            "/api/v1/keys",
            ADMIN,
            {
                "name": f"{role}-mgmt",
                "workspace_id": "acme",
                "member_id": m["id"],
                "scope": "management",
            },
        )
        out[role] = key["key"]
        out[role + "_key"] = key["data"]["id"]
    out["beta"] = ok(
        gw,
        "POST",
        "/api/v1/keys",
        ADMIN,
        {"name": "beta-mgmt", "workspace_id": "beta", "scope": "management"},
    )["key"]
    return out


def test_roles_scopes_and_workspace_walls(gw: Any) -> None:
    c = _company(gw)
    # A member creates a key for themself; an inference key cannot manage anything.
    mine = ok(gw, "POST", "/api/v1/keys", c["member"], {"name": "ann-app"})
    assert mine["data"]["member_id"] == c["member_id"] and mine["data"]["workspace_id"] == "acme"
    status, body = call(gw, "GET", "/api/v1/keys", mine["key"])
    assert status == 403 and "inference key" in body["error"]["message"]
    # ... and a management key cannot make inference requests.
    with pytest.raises(openai.PermissionDeniedError, match="management key"):
        chat(gw, c["admin"])
    assert chat(gw, mine["key"]).choices[0].message.content
    # A member may not create management keys; a viewer may not create any.
    assert (
        call(gw, "POST", "/api/v1/keys", c["member"], {"name": "x", "scope": "management"})[0]
        == 403
    )
    assert call(gw, "POST", "/api/v1/keys", c["viewer"], {"name": "x"})[0] == 403
    other = ok(gw, "POST", "/api/v1/keys", c["admin"], {"name": "team-app"})["data"]
    # The member sees only their own keys; the viewer sees the workspace's; nobody else's.
    member_sees = {k["id"] for k in ok(gw, "GET", "/api/v1/keys", c["member"])["data"]}
    assert member_sees == {mine["data"]["id"], c["member_key"]}  # their own, and only
    viewer_sees = {k["id"] for k in ok(gw, "GET", "/api/v1/keys", c["viewer"])["data"]}
    assert {mine["data"]["id"], other["id"]} <= viewer_sees
    assert all(
        k["workspace_id"] == "acme" for k in ok(gw, "GET", "/api/v1/keys", c["viewer"])["data"]
    )
    # Another workspace's credentials: every object of acme is 404, every list is empty of it.
    for method, path, body in [
        ("GET", f"/api/v1/keys/{other['id']}", None),
        ("PATCH", f"/api/v1/keys/{other['id']}", {"name": "stolen"}),
        ("DELETE", f"/api/v1/keys/{other['id']}", None),
        ("GET", "/api/v1/workspaces/acme", None),
        ("GET", "/api/v1/workspaces/acme/members", None),
        ("PATCH", f"/api/v1/workspaces/acme/members/{c['viewer_id']}", {"role": "admin"}),
    ]:
        status, _ = call(gw, method, path, c["beta"], body)
        assert status in (403, 404), (method, path, status)
    assert ok(gw, "GET", "/api/v1/keys", c["beta"])["data"][0]["workspace_id"] == "beta"
    assert call(gw, "POST", "/api/v1/workspaces", c["admin"], {"id": "x", "name": "x"})[0] == 403
    # A member cannot change (or see) another's key; a viewer cannot change any.
    assert call(gw, "PATCH", f"/api/v1/keys/{other['id']}", c["member"], {"name": "n"})[0] == 404
    assert (
        call(gw, "PATCH", f"/api/v1/keys/{mine['data']['id']}", c["viewer"], {"name": "n"})[0]
        == 403
    )


def test_openrouter_key_fields_budgets_and_the_402_that_names_them(gw: Any) -> None:
    c = _company(gw)
    new = ok(gw, "POST", "/api/v1/keys", c["admin"], {"name": "app", "limit": 1.0})
    key_id, secret = new["data"]["id"], new["key"]
    assert new["data"]["hash"] == key_id and new["data"]["limit_reset"] is None
    # Bad input is a 400 that says what is wrong.
    for bad in ({"limit_reset": "hourly"}, {"limit": -1}, {"colour": "red"}, {"disabled": "yes"}):
        status, body = call(gw, "PATCH", f"/api/v1/keys/{key_id}", c["admin"], bad)
        assert status == 400, (bad, body)
    # disabled: 401 at once, and back.
    ok(gw, "PATCH", f"/api/v1/keys/{key_id}", c["admin"], {"disabled": True})
    with pytest.raises(openai.AuthenticationError, match="disabled"):
        chat(gw, secret)
    ok(gw, "PATCH", f"/api/v1/keys/{key_id}", c["admin"], {"disabled": False})
    spent = chat(gw, secret).usage
    assert spent is not None
    # A weekly limit below what one request may cost: a 402 that names the key's budget.
    data = ok(
        gw,
        "PATCH",
        f"/api/v1/keys/{key_id}",
        c["admin"],
        {"limit": 0.000001, "limit_reset": "weekly", "name": "renamed"},
    )["data"]
    assert (data["limit_reset"], data["name"], data["limit"]) == ("weekly", "renamed", 0.000001)
    assert data["limit_remaining"] == 0.000001  # a new week's limit, nothing spent of it
    with pytest.raises(openai.APIStatusError, match="weekly budget") as refused:
        chat(gw, secret)
    assert refused.value.status_code == 402 and key_id in refused.value.message
    ok(gw, "PATCH", f"/api/v1/keys/{key_id}", c["admin"], {"limit_reset": None, "limit": 1.0})
    chat(gw, secret)
    # A workspace budget, created and lowered by acme's admin, refuses its keys too.
    budget = ok(
        gw,
        "POST",
        "/api/v1/budgets",
        c["admin"],
        {"level": "workspace", "subject": "acme", "period": "daily", "limit": 1.0},
    )["data"]
    ok(gw, "PATCH", f"/api/v1/budgets/{budget['id']}", c["admin"], {"limit": 0.0})
    with pytest.raises(openai.APIStatusError, match="workspace 'acme' daily budget"):
        chat(gw, secret)
    assert call(gw, "GET", f"/api/v1/budgets/{budget['id']}", c["beta"])[0] == 404
    assert (
        call(
            gw,
            "POST",
            "/api/v1/budgets",
            c["member"],
            {"level": "workspace", "subject": "acme", "period": "daily", "limit": 9.0},
        )[0]
        == 403
    )
    ok(gw, "DELETE", f"/api/v1/budgets/{budget['id']}", c["admin"])
    chat(gw, secret)
    # Delete: the key stops working; its object is gone.
    ok(gw, "DELETE", f"/api/v1/keys/{key_id}", c["admin"])
    with pytest.raises(openai.AuthenticationError):
        chat(gw, secret)
    assert call(gw, "GET", f"/api/v1/keys/{key_id}", c["admin"])[0] == 404


def test_activity_is_scoped_and_the_audit_log_is_append_only(gw: Any) -> None:
    c = _company(gw)
    acme = ok(gw, "POST", "/api/v1/keys", c["member"], {"name": "a"})["key"]
    beta = ok(gw, "POST", "/api/v1/keys", c["beta"], {"name": "b"})["key"]
    for _ in range(3):
        chat(gw, acme)
    chat(gw, beta)

    def rows(token: str) -> list[dict[str, Any]]:
        return list(ok(gw, "GET", "/api/v1/activity", token)["data"])

    wait_until(lambda: sum(r["requests"] for r in rows(ADMIN)) == 4, 10, "the ledger")
    (mine,) = rows(c["member"])
    assert (mine["requests"], mine["model"], mine["endpoint"]) == (3, "fakeoa/fake-model", "chat")
    assert mine["provider_name"] == "fakeoa" and mine["usage"] > 0 and mine["prompt_tokens"] > 0
    assert sum(r["requests"] for r in rows(c["beta"])) == 1

    entries = ok(gw, "GET", "/api/v1/audit", c["admin"])["data"]
    actions = {e["action"] for e in entries}
    assert {"member.create", "key.create"} <= actions
    created = next(e for e in entries if e["action"] == "key.create" and e["after"]["name"] == "a")
    assert created["actor"] != "admin" and created["before"] is None
    assert all(e["workspace_id"] == "acme" for e in entries)
    assert call(gw, "GET", "/api/v1/audit", c["viewer"])[0] == 403
    assert call(gw, "GET", "/api/v1/audit", c["member"])[0] == 403
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        status, _, _ = http_raw(
            method, gw.base_url + "/api/v1/audit", {}, {"Authorization": f"Bearer {ADMIN}"}
        )
        assert status == 405
    everything = ok(gw, "GET", "/api/v1/audit", ADMIN)["data"]
    assert {"acme", "beta"} <= {e["workspace_id"] for e in everything}


def test_budget_alerts_are_recorded_once_and_sent_signed_with_retries(gw: Any, hook: Hook) -> None:
    secret = ok(gw, "POST", "/api/v1/keys", ADMIN, {"name": "k"})["key"]
    cost = chat(gw, secret).usage
    assert cost is not None
    one = float(cost.model_extra["cost"]) if cost.model_extra else 0.0
    assert one > 0
    ok(
        gw,
        "POST",
        "/api/v1/budgets",
        ADMIN,
        {"level": "workspace", "subject": "default", "period": "monthly", "limit": 2.36 * one},
    )
    chat(gw, secret)  # 42%
    chat(gw, secret)  # 85%: 50 and 80 crossed (the next one would not fit)
    wait_until(lambda: len(hook.posts) >= 3, 15, "two alerts, one of them retried")
    events = [json.loads(body) for _, body in hook.posts]
    assert sorted({e["threshold"] for e in events}) == [50, 80]
    for headers, body in hook.posts:
        t, _, v1 = headers["x-tokenport-signature"].partition(",")
        at = t.removeprefix("t=")
        mac = hmac.new(b"whsec", f"{at}.".encode() + body, hashlib.sha256).hexdigest()
        assert v1 == f"v1={mac}"
    alerts = ok(gw, "GET", "/api/v1/budget-alerts", ADMIN)["data"]
    assert sorted(a["threshold"] for a in alerts) == [50, 80]
    wait_until(
        lambda: all(a["sent_at"] for a in ok(gw, "GET", "/api/v1/budget-alerts", ADMIN)["data"]),
        15,
        "every alert sent",
    )


def test_key_budget_view_gives_get_key_its_values(gw: Any) -> None:
    """The seam for `GET /api/v1/key` (whose shape the OpenRouter work owns): the key's
    limit, what is left of it this period, its spend today, this week and this month, and
    every budget above it."""
    from tokenport.security.manage import Manager

    new = ok(gw, "POST", "/api/v1/keys", ADMIN, {"name": "v", "limit": 1.0, "limit_reset": "daily"})
    key_id = new["data"]["id"]
    ok(
        gw,
        "POST",
        "/api/v1/budgets",
        ADMIN,
        {"level": "workspace", "subject": "default", "period": "monthly", "limit": 3.0},
    )
    spent = 0.0
    for _ in range(2):
        usage = chat(gw, new["key"]).usage
        assert usage is not None and usage.model_extra is not None
        spent += float(usage.model_extra["cost"])
    manager = Manager(gw.state.admission.keys)
    key = gw.state.admission.keys.get(key_id)
    wait_until(lambda: manager.key_budget_view(key).usage_daily >= spent - 1e-12, 10, "the ledger")
    view = manager.key_budget_view(key)
    assert (view.limit, view.limit_reset) == (1.0, "daily")
    assert view.limit_remaining == pytest.approx(1.0 - spent, abs=1e-9)
    assert view.usage == view.usage_daily == view.usage_weekly == view.usage_monthly
    assert view.usage == pytest.approx(spent, abs=1e-9)
    assert sorted((b.budget.level, b.budget.period) for b in view.budgets) == [
        ("key", "daily"),
        ("workspace", "monthly"),
    ]


def test_no_budget_means_no_reservation_for_an_unlimited_key(
    gw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zero cost when nothing is configured: an unlimited key's request never reaches the
    reservation transaction."""
    keys = gw.state.admission.keys
    calls: list[str] = []
    real = keys.reserve_all

    def spy(*args: Any) -> Any:
        calls.append("r")
        return real(*args)

    monkeypatch.setattr(keys, "reserve_all", spy)
    secret = ok(gw, "POST", "/api/v1/keys", ADMIN, {"name": "free"})["key"]
    chat(gw, secret)
    assert calls == []
    ok(
        gw,
        "POST",
        "/api/v1/budgets",
        ADMIN,
        {"level": "workspace", "subject": "default", "period": "daily", "limit": 5.0},
    )
    chat(gw, secret)
    assert calls == ["r"]  # a budget above the key: now it is reserved
