"""`GET /metrics`: what a request, a fallback, a stream, a refusal and a credit hold count,
through a real gateway and the official SDKs; who may read it; per-key labels."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

ADMIN = "admin-secret-metrics-0123456789"
MESSAGES: list[Any] = [{"role": "user", "content": "hello there"}]
BACKUP = {
    "models": [{"id": "fake-model", "slug": "fake-model", "input_price": 5.0, "output_price": 5.0}]
}


def scrape(
    base: str, token: str | None = ADMIN
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, head, body = http_raw("GET", base + "/metrics", None, headers)
    assert status == 200, body
    assert head["content-type"].startswith("text/plain")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_requests_tokens_latency_fallbacks_and_refusals_are_counted(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    fake2.set_script(Script(text="from backup", chunks=3))
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake2},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        fakeob_extra=BACKUP,
    )
    client = gw.client()
    for _ in range(3):
        client.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    fake.push(Script(status=500))  # one fallback: fakeoa fails, fakeob answers
    client.chat.completions.create(model="fake-model", messages=MESSAGES)
    chunks = list(
        client.chat.completions.create(
            model="fakeoa/fake-model",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    anthropic.Anthropic(base_url=gw.base_url, api_key="sk-test", max_retries=0).messages.create(
        model="fakeoa/fake-model", max_tokens=50, messages=MESSAGES
    )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
    # Refusals: a key's rate limit, a key's credit, a bad key.
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "r", "rpm": 1}, ADMIN)
    assert status == 201, out
    limited = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=out["key"], max_retries=0)
    limited.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError):
        limited.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    status, out = http_json(
        "POST", gw.base_url + "/api/v1/keys", {"name": "poor", "limit": 0.000001}, ADMIN
    )
    poor = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=out["key"], max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        poor.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES, max_tokens=500)
    assert refused.value.status_code == 402
    bad = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="tp-nonsense", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)

    m = scrape(gw.base_url)
    req = "tokenport_requests_total"
    assert (
        total(m, req, model="fakeoa/fake-model", provider="fakeoa", door="chat", status="200") == 5
    )
    assert total(m, req, provider="fakeob", door="chat", status="200") == 1
    assert total(m, req, provider="fakeoa", door="messages", status="200") == 1
    assert total(m, "tokenport_refusals_total", reason="model_not_found") == 1
    assert not any("no-such-model" in str(labels) for _, labels in m)
    assert total(m, "tokenport_tokens_total", type="completion", door="chat") > 0
    streamed = total(m, "tokenport_tokens_total", type="prompt", door="chat")
    assert streamed >= usage.prompt_tokens * 5
    assert total(m, "tokenport_cost_usd_total") > 0
    assert total(m, "tokenport_fallbacks_total", door="chat") == 1
    attempts = "tokenport_upstream_attempts_total"
    assert total(m, attempts, provider="fakeoa", outcome="error", error="UpstreamServerError") == 1
    assert total(m, "tokenport_time_to_first_token_seconds_count", door="chat") == 1
    assert total(m, "tokenport_request_duration_seconds_count") == 7
    assert total(m, "tokenport_gateway_overhead_seconds_count") == 7  # each served request
    assert total(m, "tokenport_upstream_duration_seconds_count", provider="fakeob") == 1
    refusals = "tokenport_refusals_total"
    assert total(m, refusals, reason="rate_limited") == 1
    assert total(m, refusals, reason="insufficient_credits") == 1
    assert total(m, refusals, reason="invalid_api_key") == 1
    # The gauges come from the background refresher: circuit breakers are per provider.
    deadline = time.monotonic() + 10
    while ("tokenport_circuit_open", (("provider", "fakeoa"),)) not in m:
        assert time.monotonic() < deadline, "gauges never refreshed"
        time.sleep(0.2)
        m = scrape(gw.base_url)
    assert m[("tokenport_circuit_open", (("provider", "fakeoa"),))] == 0
    assert m[("tokenport_ledger_backlog", ())] >= 0
    assert m[("tokenport_credit_holds", ())] == 0  # every hold settled


def test_credit_holds_are_counted_while_a_request_is_in_flight(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    import threading

    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "k", "limit": 5}, ADMIN)
    assert status == 201
    fake.set_script(Script(latency_ms=1500))
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=out["key"], max_retries=0)
    t = threading.Thread(
        target=lambda: client.chat.completions.create(
            model="fakeoa/fake-model", messages=MESSAGES, max_tokens=100
        )
    )
    t.start()
    deadline = time.monotonic() + 5
    while total(scrape(gw.base_url), "tokenport_credit_holds") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert total(scrape(gw.base_url), "tokenport_credit_held_usd") > 0
    t.join(timeout=10)
    assert total(scrape(gw.base_url), "tokenport_credit_holds") == 0
    assert total(scrape(gw.base_url), "tokenport_credit_held_usd") == pytest.approx(0, abs=1e-9)


def test_metrics_need_the_admin_key_unless_opened(
    fake: FakeUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})
    assert http_raw("GET", gw.base_url + "/metrics")[0] == 401
    wrong = {"Authorization": "Bearer not-the-admin-key"}
    assert http_raw("GET", gw.base_url + "/metrics", None, wrong)[0] == 401
    assert (
        http_raw("GET", gw.base_url + "/metrics", None, {"Authorization": f"Bearer {ADMIN}"})[0]
        == 200
    )
    no_admin = gateway_factory({"fakeoa": fake}, data_dir=str(tmp_path / "b"))
    status, _, body = http_raw("GET", no_admin.base_url + "/metrics")
    assert status == 403 and b"TOKENPORT_ADMIN_KEY" in body
    opened = gateway_factory({"fakeoa": fake}, metrics={"open": True}, data_dir=str(tmp_path / "c"))
    assert http_raw("GET", opened.base_url + "/metrics")[0] == 200
    off = gateway_factory(
        {"fakeoa": fake}, metrics={"enabled": False}, data_dir=str(tmp_path / "d")
    )
    assert http_raw("GET", off.base_url + "/metrics")[0] == 404


def test_separate_port_serves_metrics_without_a_key(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    from _helpers import free_port

    port = free_port()
    gw = gateway_factory({"fakeoa": fake}, metrics={"port": port})
    gw.client().chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    assert (
        http_raw("GET", gw.base_url + "/metrics", None, {"Authorization": f"Bearer {ADMIN}"})[0]
        == 404
    )
    # The port's server cannot flush before it answers: the worker hands its counts on
    # every `refresh_s` (1 s).
    labels = b'door="chat",model="fakeoa/fake-model",provider="fakeoa",status="200"'
    deadline = time.monotonic() + 5
    while True:
        status, _, body = http_raw("GET", f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        if b"tokenport_requests_total{" + labels + b"} 1.0" in body:
            break
        assert time.monotonic() < deadline, body.decode()[-2000:]
        time.sleep(0.1)


def test_key_labels_only_when_enabled(
    fake: FakeUpstream, gateway_factory: Any, tmp_path: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, metrics={"key_labels": True}
    )
    _, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": "k"}, ADMIN)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=out["key"], max_retries=0)
    client.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    m = scrape(gw.base_url)
    assert total(m, "tokenport_requests_total", key=out["data"]["id"]) == 1
    plain = gateway_factory(
        {"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN}, data_dir=str(tmp_path / "b")
    )
    plain.client().chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    assert not any(dict(ls).get("key") is not None for _, ls in scrape(plain.base_url))


def test_batched_counts_equal_per_request_updates() -> None:
    """What `flush` hands on in bulk is exactly what per-request `observe`/`inc` would give
    (it writes prometheus-client's per-bucket values directly)."""
    import random

    from prometheus_client import CollectorRegistry, Histogram

    from tokenport.ledger.record import LedgerRecord
    from tokenport.telemetry.metrics import LATENCY_BUCKETS, Metrics
    from tokenport.values import Attempt

    rng = random.Random(7)
    metrics = Metrics()
    reference = Histogram("ref", "ref", buckets=LATENCY_BUCKETS, registry=CollectorRegistry())
    for i in range(2000):
        latency = rng.choice([0.01, 0.05, 0.1, 2.5, 7.0, 500.0, rng.uniform(0, 200)])
        record = LedgerRecord(
            id=f"gen-{i}",
            ts=0.0,
            model_requested="m",
            status="ok",
            model_served="p/m",
            provider="p",
            prompt_tokens=3,
            completion_tokens=i % 5,
            cost=1e-6,
            latency_ms=latency * 1000,
            attempts=[Attempt("p", "m", "ok", latency * 500)],
        )
        metrics.recorded(record, None)
        reference.observe(latency)
        if i % 333 == 0:
            metrics.flush()
    metrics.flush()
    assert metrics.registry is not None
    got = {
        (s.name.removeprefix("tokenport_request_duration_seconds"), s.labels.get("le")): s.value
        for fam in metrics.registry.collect()
        if fam.name == "tokenport_request_duration_seconds"
        for s in fam.samples
    }
    want = {
        (s.name.removeprefix("ref"), s.labels.get("le")): s.value
        for fam in reference.collect()
        for s in fam.samples
    }
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v), k
    requests = [
        s.value
        for fam in metrics.registry.collect()
        if fam.name == "tokenport_requests"
        for s in fam.samples
        if s.name == "tokenport_requests_total"
    ]
    assert requests == [2000]


def test_retries_fallbacks_and_resumes_are_counted_by_reason(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake2},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        fakeob_extra=BACKUP,
        fakeoa_extra={"continuation": {"mode": "prefix"}},
        resilience={"backoff_base_s": 0.001},
    )
    client = gw.client()
    fake.push(Script(status=503), Script(status=429))  # a retry of fakeoa, after a 503
    client.chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    fake.push(Script(status=500))  # fakeoa fails, fakeob answers
    client.chat.completions.create(model="fake-model", messages=MESSAGES)
    fake.set_script(Script(text="one two three four", chunks=4))
    fake.push(Script(text="one two three four", chunks=4, cut_after=2))
    streamed = client.chat.completions.create(
        model="fakeoa/fake-model", messages=MESSAGES, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == (
        "one two three four"
    )
    time.sleep(0.1)
    samples = scrape(gw.base_url)
    name = "tokenport_recoveries_total"
    assert total(samples, name, kind="retry", reason="upstream_server_error") == 1
    assert total(samples, name, kind="retry", reason="upstream_rate_limited") == 1
    assert total(samples, name, kind="fallback", reason="upstream_server_error") == 1
    assert total(samples, name, kind="resume", reason="upstream_unreachable") == 1
