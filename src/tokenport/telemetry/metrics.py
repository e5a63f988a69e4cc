"""Prometheus metrics, correct across worker processes.

With several workers (`tokenport serve --workers N`) each process writes its samples to
memory-mapped files in `$PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode,
set up by `serve` before the workers start, `multiproc.py`), and a scrape of any worker, or
of the separate metrics port, adds them up. With one process the samples stay in memory.

Everything per request is counted from the request's ledger record once it is durable
(`recorded`), so metrics and ledger agree on what happened. Label values are bounded: the
model is the model that served (never a client's arbitrary model name), the provider one
of the configured providers (or "cache"), the door one of five, the status an HTTP code.
Per-key labels only with `[metrics] key_labels = true`.

A request only adds to plain Python counters (`_Pending`); each worker hands them to
prometheus-client every `[metrics] refresh_s` and before answering a scrape (`flush`), so
the hot path pays a few dict operations, not a dozen locked (with workers, memory-mapped)
updates. Children are looked up once per label set and kept.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from tokenport.ledger.record import LedgerRecord

# Seconds. Latency and time to first token span fast local models to slow reasoning ones;
# the gateway's own overhead is sub-millisecond to a few milliseconds.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
M = TypeVar("M", Counter, Gauge, Histogram)


class _Pending:
    """Counts and observations since the last flush, in plain Python numbers.

    A request adds to these (a few dict and float operations); `Metrics.flush` hands them
    to prometheus-client about once a second, one `inc` per label set and bucket rather
    than a dozen locked updates (memory-mapped ones with several workers) per request.
    """

    __slots__ = ("counters", "histograms")

    def __init__(self) -> None:
        self.counters: dict[tuple[Counter, tuple[str, ...]], float] = {}
        self.histograms: dict[tuple[Histogram, tuple[str, ...]], list[float]] = {}

    def add(self, metric: Counter, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (metric, labels)
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def observe(
        self, metric: Histogram, labels: tuple[str, ...], bounds: list[float], value: float
    ) -> None:
        key = (metric, labels)
        slot = self.histograms.get(key)
        if slot is None:
            slot = self.histograms[key] = [0.0] * (len(bounds) + 1)  # buckets, then the sum
        slot[bisect_left(bounds, value)] += 1
        slot[-1] += value


def _bulk_observe(child: Histogram, slot: list[float]) -> None:
    """Add many observations to a histogram child at once. prometheus-client has no public
    call for it; its per-bucket values (`_buckets`, not cumulative) and `_sum` have kept
    these names since its first releases, and tests/telemetry checks the exposition."""
    for i, n in enumerate(slot[:-1]):
        if n:
            child._buckets[i].inc(n)
    child._sum.inc(slot[-1])


class Metrics:
    def __init__(self, *, key_labels: bool = False, multiprocess: bool = False) -> None:
        # In multiprocess mode the samples live in the mmap files and a scrape reads them
        # through MultiProcessCollector; a registry here would only see this process.
        self.registry = None if multiprocess else CollectorRegistry()
        # `*_created` series double a scrape for nothing Prometheus uses (and multiprocess
        # mode has none): the same output whether or not there are workers.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.key_labels = key_labels
        reg = self.registry
        key = ("key",) if key_labels else ()
        self.requests = Counter(
            "tokenport_requests",
            "Requests that reached the gateway, by the model and provider that served them.",
            ("model", "provider", "door", "status", *key),
            registry=reg,
        )
        self.tokens = Counter(
            "tokenport_tokens",
            "Tokens processed upstream (a cache hit processes none), by type.",
            ("model", "provider", "door", "type", *key),
            registry=reg,
        )
        self.cost = Counter(
            "tokenport_cost_usd",
            "USD charged for requests (the ledger's cost).",
            ("model", "provider", "door", *key),
            registry=reg,
        )
        self.cache = Counter(
            "tokenport_cache_lookups",
            "Response cache lookups: hit or miss.",
            ("door", "result"),
            registry=reg,
        )
        self.cache_saved = Counter(
            "tokenport_cache_saved_usd",
            "Upstream USD that cache hits did not spend.",
            ("model", "door"),
            registry=reg,
        )
        self.latency = Histogram(
            "tokenport_request_duration_seconds",
            "Total latency: from the request's arrival to its last byte (streams: the whole "
            "stream).",
            ("model", "provider", "door"),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.ttft = Histogram(
            "tokenport_time_to_first_token_seconds",
            "Streams: from the request's arrival to the first chunk from upstream.",
            ("model", "provider", "door"),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.upstream = Histogram(
            "tokenport_upstream_duration_seconds",
            "Each upstream attempt, from sending it to its answer (streams: the first chunk).",
            ("provider", "outcome"),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.overhead = Histogram(
            "tokenport_gateway_overhead_seconds",
            "Time the gateway added before the answer started: latency (streams: time to "
            "first token) minus the time spent in upstream attempts.",
            ("door",),
            buckets=OVERHEAD_BUCKETS,
            registry=reg,
        )
        self.attempts = Counter(
            "tokenport_upstream_attempts",
            "Upstream attempts by outcome; a failed one is followed by the next route "
            "(a fallback) when the error allows it.",
            ("provider", "outcome", "error"),
            registry=reg,
        )
        self.fallbacks = Counter(
            "tokenport_fallbacks",
            "Requests moved on to another route after a failed attempt.",
            ("door",),
            registry=reg,
        )
        self.recoveries = Counter(
            "tokenport_recoveries",
            "Upstream attempts made after a failure (docs/resilience.md), by kind (retry: "
            "the same route again, fallback: another route, resume: a stream cut mid-answer "
            "continued) and the failure's reason (its error code).",
            ("kind", "reason"),
            registry=reg,
        )
        self.refusals = Counter(
            "tokenport_refusals",
            "Requests refused before any upstream call, by reason (rate_limited, "
            "insufficient_credits, invalid_api_key, invalid_request, ...).",
            ("door", "reason"),
            registry=reg,
        )
        self.circuit_open = Gauge(
            "tokenport_circuit_open",
            "1 while a provider's circuit breaker is open in some worker.",
            ("provider",),
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.backlog = Gauge(
            "tokenport_ledger_backlog",
            "Ledger records durable in the journal but not yet in the database.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.write_lag = Gauge(
            "tokenport_ledger_write_lag_seconds",
            "Age of the oldest ledger record not yet in the database (0 when caught up).",
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.hold_count = Gauge(
            "tokenport_credit_holds",
            "Credit reservations of in-flight requests, not yet settled.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.hold_usd = Gauge(
            "tokenport_credit_held_usd",
            "USD held by in-flight requests' credit reservations.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.draining = Gauge(
            "tokenport_draining",
            "1 while a worker is draining (SIGTERM received, /readyz answers 503).",
            registry=reg,
            multiprocess_mode="livemax",
        )
        self._pending = _Pending()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._latency_bounds = [*LATENCY_BUCKETS, math.inf]
        self._overhead_bounds = [*OVERHEAD_BUCKETS, math.inf]

    # -- per request (into `_pending`; `flush` hands it on) ---------------------------------

    def recorded(self, r: LedgerRecord, cache: str | None) -> None:
        p = self._pending
        model = r.model_served or "none"
        provider = r.provider or "none"
        door = r.door
        keys = (r.key_id or "",) if self.key_labels else ()
        p.add(self.requests, (model, provider, door, str(r.http_status), *keys))
        for kind, n in (
            ("prompt", r.prompt_tokens),
            ("completion", r.completion_tokens),
            ("cached", r.cached_tokens),
            ("reasoning", r.reasoning_tokens),
        ):
            if n:
                p.add(self.tokens, (model, provider, door, kind, *keys), n)
        if r.cost:
            p.add(self.cost, (model, provider, door, *keys), r.cost)
        route = (model, provider, door)
        p.observe(self.latency, route, self._latency_bounds, r.latency_ms / 1000.0)
        if r.stream and r.ttft_ms is not None:
            p.observe(self.ttft, route, self._latency_bounds, r.ttft_ms / 1000.0)
        if cache is not None:
            p.add(self.cache, (door, cache))
        if r.cache_hit:
            if r.cost_saved:
                p.add(self.cache_saved, (model, door), r.cost_saved)
            return
        self._attempts(r, door)

    def _attempts(self, r: LedgerRecord, door: str) -> None:
        p = self._pending
        upstream = 0.0
        for a in r.attempts:
            upstream += a.latency_ms
            labels = (a.provider, a.status)
            p.observe(self.upstream, labels, self._latency_bounds, a.latency_ms / 1000.0)
            p.add(self.attempts, (a.provider, a.status, a.error_class or ""))
            if a.kind is not None:
                p.add(self.recoveries, (a.kind, a.reason or ""))
        if len(r.attempts) > 1:
            p.add(self.fallbacks, (door,), len(r.attempts) - 1)
        if r.attempts and r.status == "ok":
            started = r.ttft_ms if r.stream and r.ttft_ms is not None else r.latency_ms
            overhead = max(0.0, started - upstream) / 1000.0
            p.observe(self.overhead, (door,), self._overhead_bounds, overhead)

    def flush(self) -> None:
        """Hand what requests added since the last flush to prometheus-client."""
        pending, self._pending = self._pending, _Pending()
        for (counter, labels), amount in pending.counters.items():
            self._child(counter, labels).inc(amount)
        for (histogram, labels), slot in pending.histograms.items():
            _bulk_observe(self._child(histogram, labels), slot)

    def refused(self, door: str, reason: str) -> None:
        self._child(self.refusals, (door, reason)).inc()

    def holds(self, count: int, nano: int) -> None:
        self.hold_count.inc(count)
        self.hold_usd.inc(nano / 1e9)

    # -- gauges, refreshed by each worker every `[metrics] refresh_s` --------------------

    def gauges(
        self, backlog: int, write_lag_s: float, breakers: Mapping[str, bool], draining: bool
    ) -> None:
        self.backlog.set(backlog)
        self.write_lag.set(write_lag_s)
        for provider, is_open in breakers.items():
            self._child(self.circuit_open, (provider,)).set(1 if is_open else 0)
        self.draining.set(1 if draining else 0)

    # -- children ------------------------------------------------------------------------

    def _child(self, metric: M, labels: tuple[str, ...]) -> M:
        key = (id(metric), labels)
        c = self._children.get(key)
        if c is None:
            c = metric.labels(*labels)
            self._children[key] = c
        return cast(M, c)
