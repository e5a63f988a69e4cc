"""OpenTelemetry traces: one span per request, a child span per upstream attempt.

Off by default (`[tracing] enabled = true` turns it on); spans go over OTLP/HTTP to a
collector through a batching processor, off the request path. An incoming W3C
`traceparent` (and `tracestate`) makes the request span a child of the caller's span.

Attributes follow OpenTelemetry's GenAI semantic conventions: `gen_ai.operation.name`,
`gen_ai.system` and `gen_ai.provider.name` (the provider that served), `gen_ai.request.model`,
`gen_ai.request.max_tokens` / `temperature` / `top_p`, `gen_ai.response.model`,
`gen_ai.response.id`, `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens` /
`output_tokens`; plus `tokenport.*` for what only a gateway knows (door, cost, cache, key).
The tracer provider is this gateway's own: the process-wide global one is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tokenport.config import TracingConfig
from tokenport.errors import TokenportError
from tokenport.ledger.record import LedgerRecord
from tokenport.values import Attempt, ChatRequest, Door, Route

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

_OPERATION: dict[str, str] = {
    "chat": "chat",
    "messages": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "gemini": "chat",
}


class Tracer:
    def __init__(self, cfg: TracingConfig, exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = TracerProvider(
            resource=Resource.create({"service.name": cfg.service_name}),
            sampler=ParentBased(TraceIdRatioBased(cfg.sample_ratio)),
        )
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            otlp = OTLPSpanExporter(endpoint=cfg.endpoint, headers=cfg.headers or None)
            self.provider.add_span_processor(BatchSpanProcessor(otlp))
        else:  # tests hand in an in-memory exporter and read spans at once
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("tokenport")
        self.propagator = TraceContextTextMapPropagator()

    def start(self, door: Door, headers: Mapping[str, str]) -> RequestSpan:
        from opentelemetry.trace import SpanKind

        parent = self.propagator.extract(headers) if "traceparent" in headers else None
        op = _OPERATION[door]
        span = self.tracer.start_span(
            op,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"gen_ai.operation.name": op, "tokenport.door": door},
        )
        return RequestSpan(self, span, op)

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor still holds


class RequestSpan:
    __slots__ = ("attempt_span", "op", "span", "stream", "tracer")

    def __init__(self, tracer: Tracer, span: Span, op: str) -> None:
        self.tracer = tracer
        self.span = span
        self.op = op
        self.stream = False
        self.attempt_span: AttemptSpan | None = None

    def parsed(self, request: ChatRequest) -> None:
        self.stream = request.stream
        self.span.update_name(f"{self.op} {request.model}")
        attrs: dict[str, Any] = {"gen_ai.request.model": request.model}
        cap = request.output_cap()
        for name, value in (
            ("gen_ai.request.max_tokens", cap),
            ("gen_ai.request.temperature", request.temperature),
            ("gen_ai.request.top_p", request.top_p),
            ("gen_ai.request.seed", request.seed),
        ):
            if value is not None:
                attrs[name] = value
        attrs["tokenport.stream"] = request.stream
        self.span.set_attributes(attrs)

    def attempt(self, route: Route) -> AttemptSpan:
        from opentelemetry.trace import SpanKind, set_span_in_context

        child = self.tracer.tracer.start_span(
            f"{self.op} {route.upstream_model}",
            context=set_span_in_context(self.span),
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": self.op,
                "gen_ai.system": route.provider,
                "gen_ai.provider.name": route.provider,
                "gen_ai.request.model": route.upstream_model,
                "tokenport.model": route.model_id,
            },
        )
        self.attempt_span = AttemptSpan(child, self.stream)
        return self.attempt_span

    def recorded(self, r: LedgerRecord, cache: str | None) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.response.id": r.id,
            "gen_ai.usage.input_tokens": r.prompt_tokens,
            "gen_ai.usage.output_tokens": r.completion_tokens,
            "tokenport.cost_usd": r.cost,
            "tokenport.status": r.status,
        }
        if r.model_served:
            attrs["gen_ai.response.model"] = r.model_served
        if r.provider:
            attrs["gen_ai.system"] = attrs["gen_ai.provider.name"] = r.provider
        if r.finish_reason:
            attrs["gen_ai.response.finish_reasons"] = (r.finish_reason,)
        if r.cached_tokens:
            attrs["gen_ai.usage.cache_read.input_tokens"] = r.cached_tokens
        if r.reasoning_tokens:
            attrs["gen_ai.usage.reasoning.output_tokens"] = r.reasoning_tokens
        if r.ttft_ms is not None and r.stream:
            attrs["tokenport.ttft_ms"] = r.ttft_ms
        if r.key_id:
            attrs["tokenport.key_id"] = r.key_id
        if r.app:
            attrs["tokenport.app"] = r.app
        if cache is not None:
            attrs["tokenport.cache"] = cache
        if r.cache_hit and r.cost_saved is not None:
            attrs["tokenport.cache_saved_usd"] = r.cost_saved
        if r.error_class:
            attrs["error.type"] = r.error_class
        self.span.set_attributes(attrs)
        # A stream's successful attempt runs until the stream ends.
        if self.attempt_span is not None:
            self.attempt_span.finish()

    def close(self, error: TokenportError | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        if self.attempt_span is not None:
            self.attempt_span.finish()
        if error is not None:
            self.span.set_attribute("http.response.status_code", error.status)
            self.span.set_attribute("error.type", error.code)
            if error.status >= 500:
                self.span.set_status(Status(StatusCode.ERROR, error.code))
        self.span.end()


class AttemptSpan:
    __slots__ = ("done", "span", "stream")

    def __init__(self, span: Span, stream: bool) -> None:
        self.span = span
        self.stream = stream
        self.done = False

    def end(self, attempt: Attempt) -> None:
        from opentelemetry.trace import Status, StatusCode

        if attempt.status == "error":
            self.span.set_attribute("error.type", attempt.error_class or "error")
            if attempt.http_status is not None:
                self.span.set_attribute("http.response.status_code", attempt.http_status)
            self.span.set_status(Status(StatusCode.ERROR, (attempt.error or "")[:200]))
        elif self.stream:
            # Answered: the first chunk is here; the span goes on until the stream's end.
            self.span.add_event("first_chunk", {"tokenport.latency_ms": attempt.latency_ms})
            return
        self.finish()

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.span.end(time.time_ns())
