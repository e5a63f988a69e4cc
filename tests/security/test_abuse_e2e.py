"""The abuse defense through a real gateway: signals recorded at the edge (client address
behind a trusted proxy, no prompt text unless store_prompts), simulated key creation times,
the admin-only scan API, and each policy action applied at admission and reversed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json
from tokenport.lab.fake import FakeUpstream

ADMIN = "admin-secret-for-abuse-tests"
SECRET_PROMPT = "Zebra-quartz-marmalade sentinel phrase that must never be stored 41327"
MODEL = "fakeoa/fake-model"


def _gateway(gateway_factory: Any, fake: FakeUpstream, **extra: Any) -> Any:
    return gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        require_keys=True,
        trusted_proxies=["127.0.0.1"],
        simulation=True,
        **extra,
    )


def _key(gw: Any, at: float | None = None) -> tuple[str, str]:
    headers = {"X-Tokenport-Sim-Time": str(at)} if at is not None else {}
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "u"}, ADMIN, headers)
    assert status == 201, out
    return out["data"]["id"], out["key"]


def _chat(gw: Any, secret: str, text: str = "hello there", **headers: str) -> tuple[int, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return http_json("POST", gw.base_url + "/v1/chat/completions", body, secret, headers)


def _drain(gw: Any) -> None:
    deadline = time.monotonic() + 10
    while gw.state.ledger.backlog() > 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _db(gw: Any) -> Path:
    return Path(gw.state.settings.ledger_url().removeprefix("sqlite:///"))


def _rows(gw: Any, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(_db(gw)) as conn:
        return conn.execute(sql).fetchall()


def test_signals_are_recorded_without_the_prompt(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    key_id, secret = _key(gw, at=1_770_000_000.0)
    status, _ = _chat(
        gw,
        secret,
        SECRET_PROMPT + " Think step by step.",
        **{"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "User-Agent": "harvester/1.0"},
    )
    assert status == 200
    _drain(gw)
    created = _rows(gw, f"SELECT created_at, created_via FROM api_keys WHERE id = '{key_id}'")
    assert created == [(1_770_000_000.0, "POST /api/v1/keys")]  # the simulated clock
    (row,) = _rows(
        gw, "SELECT ip, prefix, ua, cot, depth, chars, text, key_id FROM request_signals"
    )
    # the proxy (127.0.0.1) is trusted: the client is the last address it appended
    assert row[:2] == ("203.0.113.7", "203.0.113.0/24")
    assert row[2] != 0 and row[3] & 1 and row[4] == 1 and row[5] > 60
    assert row[6] is None and row[7] == key_id
    # nowhere in the database file, nor in the journal, is the prompt's text
    gw.stop()
    for path in [_db(gw), *Path(gw.state.settings.data_dir).rglob("*")]:
        if path.is_file():
            assert b"Zebra-quartz" not in path.read_bytes(), path


def test_store_prompts_keeps_the_prompt(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake, abuse={"store_prompts": True})
    _, secret = _key(gw)
    assert _chat(gw, secret, SECRET_PROMPT)[0] == 200
    _drain(gw)
    assert _rows(gw, "SELECT text FROM request_signals") == [(SECRET_PROMPT,)]


def test_untrusted_peer_cannot_claim_an_address(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True)
    _, secret = _key(gw)
    assert _chat(gw, secret, **{"X-Forwarded-For": "203.0.113.7"})[0] == 200
    _drain(gw)
    assert _rows(gw, "SELECT ip, prefix FROM request_signals") == [("127.0.0.1", "127.0.0.0/24")]


def test_scan_api_is_admin_only_and_fixed_shape(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, fake)
    key_id, secret = _key(gw)
    assert _chat(gw, secret)[0] == 200
    _drain(gw)
    status, body = http_json("GET", gw.base_url + "/api/v1/abuse", token=secret)
    assert status == 403 and "admin" in body["error"]["message"]
    status, body = http_json("GET", gw.base_url + "/api/v1/abuse")
    assert status in (401, 403)
    status, body = http_json("GET", gw.base_url + "/api/v1/abuse", token=ADMIN)
    assert status == 200 and set(body) == {"accounts", "clusters"}
    (account,) = body["accounts"]
    assert set(account) == {"key_id", "score", "flagged", "cluster", "reasons"}
    assert account["key_id"] == key_id and account["flagged"] is False
    status, body = http_json("GET", gw.base_url + "/api/v1/abuse?since=yesterday", token=ADMIN)
    assert status == 400 and body["error"]["param"] == "since"


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        ("flag", 200, None),
        ("throttle", 429, "abuse_throttled"),
        ("review", 403, "abuse_review"),
        ("block", 403, "abuse_blocked"),
    ],
)
def test_policy_actions_at_admission(
    fake: FakeUpstream, gateway_factory: Any, action: str, status: int, code: str | None
) -> None:
    gw = _gateway(gateway_factory, fake, abuse={"throttle_rpm": 1})
    key_id, secret = _key(gw)
    other_id, other = _key(gw)
    made, out = http_json(
        "POST",
        gw.base_url + "/api/v1/abuse/actions",
        {"key_id": key_id, "action": action, "note": "test"},
        ADMIN,
    )
    assert made == 201, out
    first = _chat(gw, secret)
    second = _chat(gw, secret)
    if action == "throttle":  # the lower limit: one a minute passes, the next is refused
        assert first[0] == 200
        got = second
    else:
        got = first
        assert second[0] == got[0]
    assert got[0] == status, got
    if code is not None:
        assert got[1]["error"]["code"] == code and out["data"]["id"] in got[1]["error"]["message"]
    assert _chat(gw, other)[0] == 200  # other keys are untouched
    # reversed by the admin: the key works again at once, and the log keeps both
    done, rev = http_json(
        "POST", f"{gw.base_url}/api/v1/abuse/actions/{key_id}/reverse", {"note": "ok"}, ADMIN
    )
    assert done == 200 and rev["data"][0]["reversed_by"] == "admin"
    if action != "throttle":
        assert _chat(gw, secret)[0] == 200
    _, log = http_json("GET", gw.base_url + "/api/v1/abuse/actions", token=ADMIN)
    assert [a["action"] for a in log["data"]] == [action]
    assert log["data"][0]["reversed_at"] is not None and other_id not in str(log)
