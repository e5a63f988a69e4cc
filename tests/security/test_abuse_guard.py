"""An abuse action written outside the gateway (`tokenport abuse act`, another replica) is in
force within `[abuse] refresh_s` while the gateway is busy, and so is its reversal.

The load is what once delayed it: many keyed requests at once, each reserving credit on a
thread of the default pool (which the actions' reload shared) while the ledger writer
holds the database's write lock for its batches."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest

from _helpers import http_json
from tokenport.abusescan.action_log import ActionLog
from tokenport.lab.fake import FakeUpstream

ADMIN = "admin-secret-for-guard-tests"
REFRESH_S = 2.0
MODEL = "fakeoa/fake-model"
X: Any = [{"role": "user", "content": "x"}]


def _key(gw: Any) -> tuple[str, str]:
    body = {"name": "u", "limit": 100.0}  # a credit limit: each request reserves on a thread
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", body, ADMIN)
    assert status == 201, out
    return out["data"]["id"], out["key"]


def _client(gw: Any, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=secret, max_retries=0, timeout=30)


# The load runs in a process of its own, as clients do: threads in the test's process would
# share the gateway's GIL and slow its event loop, which no deployment does.
LOAD = """
import sys, threading, time
import openai
base, seconds, secrets = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
done = []
def run(secret):
    client = openai.OpenAI(base_url=base + "/v1", api_key=secret, max_retries=0, timeout=30)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.chat.completions.create(
            model="fakeoa/fake-model", messages=[{"role": "user", "content": "hi"}]
        )
        done.append(1)
threads = [threading.Thread(target=run, args=(secrets[i % len(secrets)],)) for i in range(24)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(done))
"""


def _until(predicate: Callable[[], bool], limit: float) -> float:
    """Seconds until `predicate` held (polled every 10 ms), or `limit` * 2 if it never did."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit * 2:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.01)
    return limit * 2


def test_actions_are_in_force_within_refresh_s_under_load(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        require_keys=True,
        abuse={"refresh_s": REFRESH_S},
    )
    target_id, target_secret = _key(gw)
    busy = [_key(gw)[1] for _ in range(4)]
    load = subprocess.Popen(
        [sys.executable, "-c", LOAD, gw.base_url, str(4 * REFRESH_S), *busy],
        stdout=subprocess.PIPE,
        text=True,
    )
    guard = gw.state.admission.abuse
    store = ActionLog(gw.state.settings.ledger_url())  # as `tokenport abuse act` writes it
    try:
        time.sleep(1.0)  # the gateway is busy
        store.record(target_id, "block", 1.0, None, ["by hand"], "cli")
        blocked_after = _until(lambda: guard.action(target_id) is not None, REFRESH_S)
        assert blocked_after <= REFRESH_S, f"block in force after {blocked_after:.2f}s"
        refused = _client(gw, target_secret)
        with pytest.raises(openai.PermissionDeniedError) as blocked:
            refused.chat.completions.create(model=MODEL, messages=X)
        assert blocked.value.code == "abuse_blocked"
        store.reverse(target_id, "cli")
        cleared_after = _until(lambda: guard.action(target_id) is None, REFRESH_S)
        still_loading = load.poll() is None
    finally:
        served = int(load.communicate(timeout=60)[0] or 0)
        store.close()
    print(f"block {blocked_after:.2f}s, reversal {cleared_after:.2f}s, {served} served")
    assert still_loading and served >= 50, served  # it was busy throughout
    assert cleared_after <= REFRESH_S, f"reversal in force after {cleared_after:.2f}s"
    assert refused.chat.completions.create(model=MODEL, messages=X).choices
