"""The one seam between the request pipeline and its observers.

    edge      start(door, headers) -> Watch      (before authentication)
              watch.parsed(request)              (the door has parsed the body)
              watch.held(nano) / released()      (a credit reservation, and its settling)
    gateway   watch.attempt(route).end(attempt)  (each upstream attempt)
              watch.recorded(record, cache)      (the ledger record is durable)
    edge      watch.close(error)                 (the response has left, or failed)

A request that never reaches the gateway (refused by a key, a limit, a bad body) has no
record from the gateway: `close` sees it unrecorded, with its error, and counts a refusal
(the edge's boundary writes its record, `api/refusals.py`, with the model `parsed` saw). Reports
never raise and never block: they only update counters in memory and spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from tokenport.errors import TokenportError
from tokenport.ledger.record import LedgerRecord
from tokenport.values import Attempt, ChatRequest, Door, Route

if TYPE_CHECKING:
    from tokenport.telemetry.metrics import Metrics
    from tokenport.telemetry.tracing import RequestSpan, Tracer


class AttemptWatch(Protocol):
    def end(self, attempt: Attempt) -> None: ...


class Watch(Protocol):
    @property
    def model(self) -> str | None: ...  # the model asked for, once parsed (refusals' records)

    def parsed(self, request: ChatRequest) -> None: ...

    def attempt(self, route: Route) -> AttemptWatch: ...

    def recorded(self, record: LedgerRecord, cache: str | None) -> None: ...

    def held(self, nano: int) -> None: ...

    def released(self) -> None: ...

    def close(self, error: TokenportError | None) -> None: ...


class _NoAttempt:
    __slots__ = ()

    def end(self, attempt: Attempt) -> None:
        return None


NO_ATTEMPT = _NoAttempt()


class NullWatch:
    """For a gateway with metrics and tracing both off, and for contexts made outside a
    request (tests, the simulator): every report is a no-op."""

    __slots__ = ()

    @property
    def model(self) -> str | None:
        return None

    def parsed(self, request: ChatRequest) -> None:
        return None

    def attempt(self, route: Route) -> AttemptWatch:
        return NO_ATTEMPT

    def recorded(self, record: LedgerRecord, cache: str | None) -> None:
        return None

    def held(self, nano: int) -> None:
        return None

    def released(self) -> None:
        return None

    def close(self, error: TokenportError | None) -> None:
        return None


NULL_WATCH = NullWatch()


class RequestWatch:
    """One request's reports, to the metrics and (when tracing is on) its span."""

    __slots__ = ("door", "hold", "metrics", "model", "record", "span")

    def __init__(self, door: Door, metrics: Metrics | None, span: RequestSpan | None) -> None:
        self.door = door
        self.metrics = metrics
        self.span = span
        self.record = False
        self.hold = 0
        self.model: str | None = None

    def parsed(self, request: ChatRequest) -> None:
        self.model = request.model
        if self.span is not None:
            self.span.parsed(request)

    def attempt(self, route: Route) -> AttemptWatch:
        return self.span.attempt(route) if self.span is not None else NO_ATTEMPT

    def recorded(self, record: LedgerRecord, cache: str | None) -> None:
        self.record = True
        if self.metrics is not None:
            self.metrics.recorded(record, cache)
        if self.span is not None:
            self.span.recorded(record, cache)

    def held(self, nano: int) -> None:
        if nano and self.metrics is not None:
            self.hold = nano
            self.metrics.holds(1, nano)

    def released(self) -> None:
        if self.hold and self.metrics is not None:
            self.metrics.holds(-1, -self.hold)
            self.hold = 0

    def close(self, error: TokenportError | None) -> None:
        if error is not None and not self.record and self.metrics is not None:
            self.metrics.refused(self.door, error.code)
        if self.span is not None:
            self.span.close(error)


class Telemetry:
    """Hands out one watch per request; owns the metrics and the tracer."""

    def __init__(self, metrics: Metrics | None = None, tracer: Tracer | None = None) -> None:
        self.metrics = metrics
        self.tracer = tracer

    def start(self, door: Door, headers: Mapping[str, str]) -> Watch:
        if self.tracer is not None:
            return RequestWatch(door, self.metrics, self.tracer.start(door, headers))
        if self.metrics is not None:
            return RequestWatch(door, self.metrics, None)
        return NULL_WATCH

    def shutdown(self) -> None:
        if self.tracer is not None:
            self.tracer.shutdown()
