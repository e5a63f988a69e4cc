"""The per-request work of metrics, tracing and the cache, timed in-process (microseconds).

    python bench/observe_micro.py [--n 20000]

Run by bench/observe_cost.py in its own process (twice: with prometheus-client's in-memory
values, and with PROMETHEUS_MULTIPROC_DIR set, as `serve --workers N` runs them), because
end-to-end CPU per request on a shared machine moves more between rounds than these costs.
Each figure is the mean over `--n` requests of exactly what the gateway calls for one
request: `Telemetry.start` -> `parsed` -> `attempt().end` -> `recorded` -> `close`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from tokenport.cache.cache import CachedAnswer, _decode, _encode
from tokenport.cache.key import cache_key
from tokenport.cache.store import MemoryStore
from tokenport.config import TracingConfig
from tokenport.ledger.record import LedgerRecord
from tokenport.telemetry.metrics import Metrics
from tokenport.telemetry.watch import Telemetry
from tokenport.values import (
    Attempt,
    ChatRequest,
    ChatResponse,
    Choice,
    Message,
    Pricing,
    Route,
    Usage,
)

REQUEST = ChatRequest(
    model="mock0/mock-model",
    messages=[Message(role="user", content="Say hello to the benchmark.")],
    max_tokens=16,
    temperature=0,
)
ROUTE = Route("mock0", "mock-model", "mock0/mock-model", Pricing(1.0, 2.0))
ATTEMPT = Attempt("mock0", "mock-model", "ok", 0.4)
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}


def _record() -> LedgerRecord:
    return LedgerRecord(
        id="gen-01",
        ts=time.time(),
        model_requested="mock0/mock-model",
        status="ok",
        model_served="mock0/mock-model",
        provider="mock0",
        prompt_tokens=12,
        completion_tokens=5,
        cost=2.2e-5,
        latency_ms=0.9,
        ttft_ms=0.9,
        attempts=[ATTEMPT],
    )


def _per_request(telemetry: Telemetry) -> Callable[[], None]:
    record = _record()
    count = [0]

    def one() -> None:
        watch = telemetry.start("chat", HEADERS)
        watch.parsed(REQUEST)
        watch.attempt(ROUTE).end(ATTEMPT)
        watch.recorded(record, None)
        watch.close(None)
        count[0] += 1
        if telemetry.metrics is not None and count[0] % 1000 == 0:
            telemetry.metrics.flush()  # once a second at 1,000 requests a second

    return one


def _time(fn: Callable[[], None], n: int) -> float:
    for _ in range(min(n, 2000)):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def _cache(n: int) -> dict[str, float]:
    """The lookup's own work: normalise and hash the request, find (or miss) the entry in
    the in-memory store, decode a hit. (The gateway awaits the store; its event loop round
    trip is not counted here.)"""
    store = MemoryStore(10_000)
    answer = CachedAnswer(
        "mock0/mock-model",
        "mock0",
        Usage(12, 5),
        2.2e-5,
        response=ChatResponse(
            "x", "mock0/mock-model", 0, [Choice(0, Message(role="assistant", content="Hi."))]
        ),
    )
    hit_key = cache_key(REQUEST, "key_y", False)
    store._entries[hit_key] = (time.monotonic() + 3600, _encode(answer))

    def miss() -> None:
        store._entries.get(cache_key(REQUEST, "key_x", False))

    def hit() -> None:
        entry = store._entries.get(cache_key(REQUEST, "key_y", False))
        assert entry is not None
        _decode(entry[1])

    return {"cache_lookup_miss_us": _time(miss, n), "cache_lookup_hit_us": _time(hit, n)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20_000)
    n = p.parse_args().n
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    out: dict[str, object] = {"multiprocess": multiprocess}
    out["metrics_us"] = _time(_per_request(Telemetry(Metrics(multiprocess=multiprocess))), n)
    if not multiprocess:
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        from tokenport.telemetry.tracing import Tracer

        class Discard(SpanExporter):
            def export(self, spans: object) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        tracer = Tracer(TracingConfig(enabled=True), Discard())
        out["tracing_spans_us"] = _time(_per_request(Telemetry(None, tracer)), n // 4)
        out.update(_cache(n))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
