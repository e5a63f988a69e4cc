"""Budgets hold on two gateway processes sharing PostgreSQL and Redis (issue 23, §2).

200 concurrent requests over 20 keys against a workspace budget for 50; a daily budget
whose period rolls over mid-load on the simulated clock; a budget lowered mid-load. In all
three, spend never passes any budget, and the ledger equals the budgets' usage exactly.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from _billing_upstream import BillingUpstream
from _helpers import free_port, http_json, serve, wait_until
from tokenport.db import Database
from tokenport.ledger.charges import to_nano
from tokenport.security.budgets import period_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(240)]
ADMIN = "admin-secret-budget-replicas-0123456789"
MODEL = "fakeoa/fake-model"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]
KEYS = 20
DAY = 86_400


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[list[str]]:
    biller = BillingUpstream(max_output=1_000, latency_s=0.05).start()
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'database_url = "{pg_url}"\nredis_url = "{redis_url}"\n'
        f'data_dir = "{tmp_path}"\nsimulation = true\n[local]\nenabled = false\n'
        "[company]\nbudget_refresh_s = 0.3\n"
        f'[providers.fakeoa]\nbase_url = "{biller.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0, '
        "context_length = 8192, max_output = 1000 }]\n"
    )
    env = {**os.environ, "TOKENPORT_ADMIN_KEY": ADMIN}
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            procs.append(serve(cfg, port, tmp_path / f"gw{i}.log", env))
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(timeout=30)
        biller.stop()


def _api(base: str, method: str, path: str, body: Any = None) -> Any:
    status, out = http_json(method, base + path, body, ADMIN)
    assert status in (200, 201), (status, out)
    return out["data"]


def _workspace(base: str) -> list[str]:
    """A workspace `acme` with 20 inference keys; their secrets."""
    _api(base, "POST", "/api/v1/workspaces", {"id": "acme", "name": "Acme"})
    return [
        http_json("POST", base + "/api/v1/keys", {"name": f"k{i}", "workspace_id": "acme"}, ADMIN)[
            1
        ]["key"]
        for i in range(KEYS)
    ]


def _one_cost(base: str) -> float:
    """What one request costs, from a key outside the workspace."""
    secret = http_json("POST", base + "/api/v1/keys", {"name": "probe"}, ADMIN)[1]["key"]
    status, body = _chat(base, secret)
    assert status == 200, body
    return float(body["usage"]["cost"])


def _chat(base: str, secret: str, at: float | None = None) -> tuple[int, Any]:
    headers = {"X-Tokenport-Sim-Time": f"{at:.3f}"} if at is not None else None
    payload = {"model": MODEL, "messages": MSG, "max_tokens": 20}
    return http_json("POST", base + "/v1/chat/completions", payload, secret, headers, 60)


def _ledger_nano(pg_url: str, ok: int, since: float = 0, until: float = 2**40) -> int:
    """The ledger's spend by acme's keys in [since, until), once all `ok` records landed."""
    db = Database(pg_url)
    sql = (
        "SELECT r.cost FROM requests r JOIN api_keys k ON k.id = r.key_id "
        "WHERE k.workspace_id = 'acme' AND r.status = 'ok' AND r.ts >= %s AND r.ts < %s"
    )
    try:
        wait_until(lambda: len(db.rows(sql, (since, until))) >= ok, 30, "the ledger")
        return sum(to_nano(c) for (c,) in db.rows(sql, (since, until)))
    finally:
        db.close()


def _usage_rows(pg_url: str, budget_id: str) -> dict[int, tuple[int, int]]:
    db = Database(pg_url)
    try:
        rows = db.rows(
            "SELECT period_start, usage_nano, reserved_nano FROM budget_usage WHERE budget_id = %s",
            (budget_id,),
        )
    finally:
        db.close()
    return {int(start): (int(u), int(r)) for start, u, r in rows}


def _load(urls: list[str], secrets: list[str], n: int, at: Any = None) -> list[tuple[int, Any]]:
    def one(i: int) -> tuple[int, Any]:
        return _chat(urls[i % 2], secrets[i % KEYS], at(i) if at else None)

    with ThreadPoolExecutor(40) as pool:
        return list(pool.map(one, range(n)))


def _check_refusals(results: list[tuple[int, Any]], budget_id: str) -> int:
    codes = [s for s, _ in results]
    assert set(codes) <= {200, 402}, codes
    for status, body in results:
        if status == 402:
            message = body["error"]["message"]
            assert "workspace 'acme'" in message and budget_id in message, message
    return codes.count(200)


def test_a_workspace_budget_holds_over_20_keys_and_two_processes(
    replicas: list[str], pg_url: str
) -> None:
    a, b = replicas
    cost = _one_cost(a)
    secrets = _workspace(a)
    budget = _api(
        b,
        "POST",
        "/api/v1/budgets",
        {"level": "workspace", "subject": "acme", "period": "monthly", "limit": 50 * cost},
    )
    limit_nano = round(budget["limit"] * 1e9)
    threading.Event().wait(1.0)  # the other process reloads budgets every 0.3 s

    results = _load(replicas, secrets, 200)
    ok = _check_refusals(results, budget["id"])
    rows = _usage_rows(pg_url, budget["id"])
    ((usage, reserved),) = rows.values()
    assert reserved == 0
    assert usage <= limit_nano  # never past the budget
    assert 25 <= ok <= 50  # it was the budget that stopped them, near its end
    assert _ledger_nano(pg_url, ok) == usage  # the ledger equals usage, to the nano-dollar


def test_a_daily_budget_rolls_over_mid_load_on_the_simulated_clock(
    replicas: list[str], pg_url: str
) -> None:
    a, _ = replicas
    cost = _one_cost(a)
    secrets = _workspace(a)
    budget = _api(
        a,
        "POST",
        "/api/v1/budgets",
        {"level": "workspace", "subject": "acme", "period": "daily", "limit": 25 * cost},
    )
    limit_nano = round(budget["limit"] * 1e9)
    threading.Event().wait(1.0)
    midnight = float(period_start("daily", 1_780_000_000) + DAY)
    # 200 requests stamped 10 s before midnight to 10 s after, in flight together.
    results = _load(replicas, secrets, 200, at=lambda i: midnight - 10 + i * 0.1)
    ok = _check_refusals(results, budget["id"])
    rows = _usage_rows(pg_url, budget["id"])
    before, after = int(midnight - DAY), int(midnight)
    assert set(rows) == {before, after}  # two periods, each its own row: nothing was reset
    for usage, reserved in rows.values():
        assert reserved == 0 and 0 < usage <= limit_nano
    # Each request is charged to the period it was admitted in, and the ledger agrees.
    ok_before = sum(1 for i, (s, _) in enumerate(results) if s == 200 and i < 100)
    assert _ledger_nano(pg_url, ok_before, before, after) == rows[before][0]
    assert _ledger_nano(pg_url, ok - ok_before, after, after + DAY) == rows[after][0]


def test_a_budget_lowered_mid_load_holds_for_every_later_reservation(
    replicas: list[str], pg_url: str
) -> None:
    a, b = replicas
    cost = _one_cost(a)
    secrets = _workspace(a)
    budget = _api(
        a,
        "POST",
        "/api/v1/budgets",
        {"level": "workspace", "subject": "acme", "period": "monthly", "limit": 150 * cost},
    )
    threading.Event().wait(1.0)
    lowered: dict[str, Any] = {}
    served = threading.Semaphore(0)

    def lower() -> None:
        for _ in range(8):  # after 8 answers, while the rest are in flight
            served.acquire()
        lowered.update(_api(b, "PATCH", f"/api/v1/budgets/{budget['id']}", {"limit": 80 * cost}))

    def one(i: int) -> tuple[int, Any]:
        out = _chat(replicas[i % 2], secrets[i % KEYS])
        if out[0] == 200:
            served.release()
        return out

    lowering = threading.Thread(target=lower)
    lowering.start()
    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(one, range(200)))
    lowering.join(30)
    ok = _check_refusals(results, budget["id"])
    ((usage, reserved),) = _usage_rows(pg_url, budget["id"]).values()
    assert reserved == 0
    new_limit = round(lowered["limit"] * 1e9)
    # What was admitted before the edit is honoured; nothing admitted after it passes it.
    committed = round((lowered["usage"] + lowered["reserved"]) * 1e9)
    assert usage <= max(new_limit, committed)
    assert usage < to_nano(110 * cost)  # well under the old 150: the lowering held
    assert _ledger_nano(pg_url, ok) == usage
