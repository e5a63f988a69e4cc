"""Refused requests reach the ledger (api/refusals.py): one record each with status, code,
key, door, model asked and client prefix, counted in the rollups' errors; a flood beyond
`refusal_records_per_s` is aggregated into records that say how many they stand for."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from _helpers import http_json
from tokenport.api.refusals import RefusalLog
from tokenport.errors import (
    AllProvidersFailed,
    ModelNotFound,
    RateLimited,
    Unauthorized,
    UpstreamServerError,
)
from tokenport.lab.fake import FakeUpstream
from tokenport.ledger.record import LedgerRecord

ADMIN = "admin-secret-for-refusal-tests"
MODEL = "fakeoa/fake-model"
SCOPE = {"client": ("203.0.113.7", 5000)}
LO = "127.0.0.0/24"  # the test clients' prefix


class ListSink:
    def __init__(self) -> None:
        self.records: list[LedgerRecord] = []

    def note(self, record: LedgerRecord) -> None:
        self.records.append(record)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _log(per_s: float = 2.0) -> tuple[RefusalLog, ListSink, Clock]:
    sink, clock = ListSink(), Clock()
    keys = {"tp-known": "key_A"}
    return RefusalLog(sink, keys.get, [], per_s, clock), sink, clock


def test_one_record_per_refusal_with_who_and_why() -> None:
    log, sink, _ = _log()
    log.note("messages", SCOPE, {"x-api-key": "tp-known"}, RateLimited("slow down", 3), "m/x")
    log.note("chat", SCOPE, {}, ModelNotFound("kimmi", []), None)
    first, second = sink.records
    assert (first.status, first.http_status, first.error_code) == ("refused", 429, "rate_limited")
    assert (first.key_id, first.door, first.model_requested) == ("key_A", "messages", "m/x")
    assert first.client_prefix == "203.0.113.0/24" and first.cost == 0 and first.request_count == 1
    assert (second.model_requested, second.error_code, second.key_id) == (
        "kimmi",
        "model_not_found",
        None,
    )


def test_errors_the_gateway_records_itself_are_not_refusals() -> None:
    log, sink, _ = _log()
    upstream = UpstreamServerError("p", "boom", 500)
    log.note("chat", SCOPE, {}, upstream, None)
    log.note("chat", SCOPE, {}, AllProvidersFailed([], upstream), None)
    assert sink.records == []


def test_a_flood_is_aggregated_and_counted_not_dropped() -> None:
    async def flood() -> tuple[RefusalLog, ListSink]:
        log, sink, clock = _log(per_s=2.0)
        for i in range(50):
            peer = {"client": (f"198.51.{i % 3}.9", 1)}
            log.note("chat", peer, {"authorization": "Bearer nope"}, Unauthorized("no"), "m")
        clock.now += 0.5  # one more token's worth
        log.note("chat", SCOPE, {}, Unauthorized("no"), "m")
        await asyncio.sleep(1.1)  # the aggregate is written within the second
        return log, sink

    log, sink = asyncio.run(flood())
    single = [r for r in sink.records if r.request_count == 1 and r.model_requested]
    folded = [r for r in sink.records if not r.model_requested]
    assert len(single) == 3  # the burst of two, then one refilled token
    assert sum(r.request_count for r in folded) == 48 and len(folded) == 3  # one per prefix
    assert {r.client_prefix for r in folded} == {f"198.51.{i}.0/24" for i in range(3)}
    stats = log.stats()
    assert (stats.written, stats.folded, stats.aggregates, stats.lost) == (3, 48, 3, 0)


def test_aggregate_groups_are_bounded() -> None:
    async def flood() -> ListSink:
        log, sink, _ = _log(per_s=1.0)
        for i in range(2000):
            peer = {"client": (f"10.{i // 256}.{i % 256}.1", 1)}
            log.note("chat", peer, {}, Unauthorized("no"), None)
        log.flush()
        return sink

    sink = asyncio.run(flood())
    assert len(sink.records) <= 1 + 257
    assert sum(r.request_count for r in sink.records) == 2000
    assert any(r.client_prefix == "*" for r in sink.records)


# -- through a real gateway, with the official SDKs --------------------------------------


def _rows(gw: Any, sql: str) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 10
    while gw.state.ledger.backlog() > 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    db = Path(gw.state.settings.ledger_url().removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _key(gw: Any, **fields: Any) -> tuple[str, str]:
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "u", **fields}, ADMIN)
    assert status == 201, out
    return out["data"]["id"], out["key"]


def test_every_refusal_is_in_the_ledger_and_counts_as_an_error(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True)
    ok_id, ok_secret = _key(gw)
    broke_id, broke_secret = _key(gw, limit=0.0)
    narrow_id, narrow_secret = _key(gw, allowed_models=["other/*"])
    url = gw.base_url + "/v1"
    msgs: Any = [{"role": "user", "content": "hi"}]

    def oa(secret: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=url, api_key=secret, max_retries=0)

    with pytest.raises(openai.AuthenticationError):  # 401: no tokenport key
        oa("sk-none").chat.completions.create(model=MODEL, messages=msgs)
    with pytest.raises(openai.AuthenticationError):  # 401: unknown tp- key
        oa("tp-" + "0" * 40).chat.completions.create(model=MODEL, messages=msgs)
    with pytest.raises(openai.NotFoundError):  # 404: unknown model
        oa(ok_secret).chat.completions.create(model="fakeoa/nope", messages=msgs)
    with pytest.raises(openai.NotFoundError):  # 404: provider not configured
        oa(ok_secret).chat.completions.create(model="deepseek/deepseek-chat", messages=msgs)
    with pytest.raises(openai.PermissionDeniedError):  # 403: model not allowed for the key
        oa(narrow_secret).chat.completions.create(model=MODEL, messages=msgs)
    with pytest.raises(anthropic.APIStatusError) as paid:  # 402 at the Messages door
        anthropic.Anthropic(
            base_url=gw.base_url, api_key=broke_secret, max_retries=0
        ).messages.create(model=MODEL, max_tokens=8, messages=msgs)
    assert paid.value.status_code == 402
    status, _ = http_json("POST", url + "/chat/completions", b"{not json", ok_secret)
    assert status == 400
    assert oa(ok_secret).chat.completions.create(model=MODEL, messages=msgs).choices

    rows = _rows(
        gw,
        "SELECT http_status, error_code, key_id, door, model_requested, client_prefix, cost "
        "FROM requests WHERE status = 'refused' ORDER BY id",
    )
    assert rows == [
        (401, "invalid_api_key", None, "chat", "", LO, 0.0),
        (401, "invalid_api_key", None, "chat", "", LO, 0.0),
        (404, "model_not_found", ok_id, "chat", "fakeoa/nope", LO, 0.0),
        (404, "provider_not_configured", ok_id, "chat", "deepseek/deepseek-chat", LO, 0.0),
        (403, "forbidden", narrow_id, "chat", MODEL, LO, 0.0),
        (402, "insufficient_credits", broke_id, "messages", MODEL, LO, 0.0),
        (400, "invalid_request", ok_id, "chat", "", LO, 0.0),
    ]
    ((requests, errors),) = _rows(gw, "SELECT SUM(requests), SUM(errors) FROM rollup_hourly")
    assert (requests, errors) == (8, 7)
    status, ranked = http_json("GET", gw.base_url + "/api/v1/rankings?window=day", token=ADMIN)
    assert status == 200, ranked
    assert ranked["totals"]["errors"] == 7 and ranked["totals"]["requests"] == 8


def test_a_flood_of_unauthenticated_refusals_is_aggregated(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake}, require_keys=True, refusal_records_per_s=5)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(60):
        assert http_json("POST", gw.base_url + "/v1/chat/completions", body)[0] == 401
    time.sleep(1.3)  # the aggregate of the last second is written
    rows = _rows(gw, "SELECT request_count, model_requested FROM requests")
    assert sum(n for n, _ in rows) == 60
    assert len(rows) <= 60 // 2  # most of the flood went into aggregates
    assert all(n == 1 for n, model in rows if model)  # singles keep the model asked
    ((requests, errors),) = _rows(gw, "SELECT SUM(requests), SUM(errors) FROM rollup_hourly")
    assert requests == errors == 60
