"""The request pipeline between the API edge and the providers.

plan routes -> try them in order (one short fallback loop shared by the streamed and the
non-streamed path) -> settle usage and cost -> append the ledger record. The record is
made durable before the answer's last bytes leave, so an answer a client saw is never
missing from the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tokenport.catalog.model import ModelEntry
from tokenport.errors import (
    AllProvidersFailed,
    TokenportError,
    UpstreamError,
    UpstreamProtocolError,
)
from tokenport.ledger.record import KeyHold, LedgerRecord
from tokenport.ledger.signals import RequestSignals
from tokenport.pricing import cost_usd
from tokenport.providers.base import Provider, ProviderState
from tokenport.providers.deployments import EnergyRate
from tokenport.routing.candidates import plan
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import (
    Attempt,
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    Route,
    Usage,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class LedgerSink(Protocol):
    async def append(self, record: LedgerRecord) -> None: ...

    async def get(self, record_id: str) -> LedgerRecord | None: ...


@dataclass(slots=True)
class RequestContext:
    gen_id: str
    ts: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    key_id: str | None = None
    app: str | None = None
    requested_model: str | None = None  # what the client asked for, when routing rewrote it
    # Called once when the request is over, with its cost and total tokens (0, 0 on failure):
    # how the admission layer settles a credit reservation and counts tokens per minute.
    on_done: Callable[[float, int], Awaitable[None]] | None = None
    # The credit held for the request, carried by its ledger record so that the ledger can
    # charge the key if `on_done` cannot reach the key database (ledger/charges.py).
    hold: KeyHold | None = None
    # What the edge saw of the request, for the abuse scan (security/abuse/signals.py).
    signals: RequestSignals | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    async def done(self, cost: float, tokens: int) -> None:
        callback, self.on_done = self.on_done, None
        if callback is not None:
            await callback(cost, tokens)


@dataclass(slots=True)
class Served:
    """A settled non-streamed answer."""

    route: Route
    response: ChatResponse
    usage: Usage
    cost: float


@dataclass(slots=True)
class Embedded:
    """A settled embeddings answer."""

    route: Route
    response: EmbeddingResponse
    usage: Usage
    cost: float


def _none(name: str) -> list[ModelEntry]:
    return []


def _no_suggestions(name: str) -> list[str]:
    return []


@dataclass(slots=True)
class OpenStream:
    """A stream whose first chunk has arrived; from here on there is no fallback."""

    request: ChatRequest
    ctx: RequestContext
    route: Route
    first: Chunk
    rest: AsyncIterator[Chunk]
    attempts: list[Attempt]
    ttft_ms: float


@dataclass(slots=True)
class StreamEnd:
    """What the API edge needs to close a stream: usage and cost, or the error."""

    usage: Usage
    cost: float
    error: TokenportError | None = None


@dataclass
class Gateway:
    resolve: Callable[[str], list[ModelEntry]]
    suggest: Callable[[str], list[str]]
    providers: Mapping[str, Provider]
    states: Mapping[str, ProviderState]
    health: Health
    ledger: LedgerSink
    counter: TokenCounter
    attempt_timeout_s: float = 60.0
    stream_idle_timeout_s: float = 60.0
    energy: Mapping[str, EnergyRate] = field(default_factory=dict)
    interactive_max_rtt_ms: float | None = None
    tolerant_apps: tuple[str, ...] = ()
    # The embedding models' catalog (chat and embedding routes never mix).
    resolve_embedding: Callable[[str], list[ModelEntry]] = _none
    suggest_embedding: Callable[[str], list[str]] = _no_suggestions
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def latency_budget(self, request: ChatRequest, app: str | None) -> float | None:
        """Round-trip budget: interactive work stays near; tolerant work may go far."""
        prefs = request.provider
        if prefs is not None and prefs.max_rtt_ms is not None:
            return prefs.max_rtt_ms
        if prefs is not None and prefs.latency == "tolerant":
            return None
        if app and any(t in app.lower() for t in self.tolerant_apps):
            return None
        return self.interactive_max_rtt_ms

    def routes_for(self, request: ChatRequest, app: str | None = None) -> list[Route]:
        budget = self.latency_budget(request, app)
        return plan(request, self.resolve, self.suggest, self.states, self.health, budget)

    def embedding_routes_for(self, routing: ChatRequest, app: str | None = None) -> list[Route]:
        budget = self.latency_budget(routing, app)
        return plan(
            routing,
            self.resolve_embedding,
            self.suggest_embedding,
            self.states,
            self.health,
            budget,
        )

    async def embed(
        self,
        request: EmbeddingRequest,
        routing: ChatRequest,
        ctx: RequestContext,
        routes: list[Route] | None = None,
    ) -> Embedded:
        """Embeddings through the same fallback loop, ledger and settlement as chat.

        `routing` is the request as the router and admission see it: the model names,
        provider preferences and the input as one user turn (for token estimates).
        """
        attempts: list[Attempt] = []
        try:
            routes = routes or self.embedding_routes_for(routing, ctx.app)
            route, resp = await self._first_success(
                routes, lambda p, r: p.embed(request, r, self.attempt_timeout_s), attempts
            )
        except TokenportError as exc:
            await self.ledger.append(_error_record(routing, ctx, attempts, exc, stream=False))
            await ctx.done(0.0, 0)
            raise
        except asyncio.CancelledError:
            self._spawn(ctx.done(0.0, 0))
            raise
        usage = resp.usage or await self._estimate(routing, "")
        cost = cost_usd(usage, route.pricing)
        latency = ctx.elapsed_ms()
        self.health.record_success(route.provider, route.model_id, latency, 0, latency / 1000.0)
        await self.ledger.append(
            self._metered(
                _ok_record(
                    routing,
                    ctx,
                    route,
                    usage,
                    cost,
                    attempts=attempts,
                    latency_ms=latency,
                    ttft_ms=latency,
                    finish=None,
                    stream=False,
                )
            )
        )
        await ctx.done(cost, usage.total_tokens)
        return Embedded(route, resp, usage, cost)

    async def _first_success(
        self,
        routes: list[Route],
        start: Callable[[Provider, Route], Awaitable[T]],
        attempts: list[Attempt],
    ) -> tuple[Route, T]:
        last: UpstreamError | None = None
        for route in routes:
            t0 = time.perf_counter()
            try:
                result = await start(self.providers[route.provider], route)
            except UpstreamError as exc:
                attempts.append(_failed_attempt(route, t0, exc))
                self.health.record_failure(route.provider, route.model_id, exc.retry_after)
                last = exc
                if not exc.retryable:
                    raise
                continue
            attempts.append(Attempt(route.provider, route.upstream_model, "ok", _ms(t0)))
            return route, result
        raise AllProvidersFailed(attempts, last)

    async def complete(
        self, request: ChatRequest, ctx: RequestContext, routes: list[Route] | None = None
    ) -> Served:
        attempts: list[Attempt] = []
        try:
            routes = routes or self.routes_for(request, ctx.app)
            route, resp = await self._first_success(
                routes, lambda p, r: p.chat(request, r, self.attempt_timeout_s), attempts
            )
        except TokenportError as exc:
            await self.ledger.append(_error_record(request, ctx, attempts, exc, stream=False))
            await ctx.done(0.0, 0)
            raise
        except asyncio.CancelledError:
            self._spawn(ctx.done(0.0, 0))  # release the reservation of an abandoned request
            raise
        usage = resp.usage or await self._estimate(request, _response_text(resp))
        cost = cost_usd(usage, route.pricing)
        latency = ctx.elapsed_ms()
        self.health.record_success(
            route.provider, route.model_id, latency, usage.completion_tokens, latency / 1000.0
        )
        resp.id, resp.model = ctx.gen_id, route.model_id
        finish = resp.choices[0].finish_reason if resp.choices else None
        await self.ledger.append(
            self._metered(
                _ok_record(
                    request,
                    ctx,
                    route,
                    usage,
                    cost,
                    attempts=attempts,
                    latency_ms=latency,
                    ttft_ms=latency,
                    finish=finish,
                    stream=False,
                )
            )
        )
        await ctx.done(cost, usage.total_tokens)
        return Served(route, resp, usage, cost)

    async def open_stream(
        self, request: ChatRequest, ctx: RequestContext, routes: list[Route] | None = None
    ) -> OpenStream:
        """Route and wait for the first chunk; failures up to here fall back."""
        attempts: list[Attempt] = []

        async def start(p: Provider, r: Route) -> tuple[Chunk, AsyncIterator[Chunk]]:
            it = aiter(p.stream_chat(request, r, self.stream_idle_timeout_s))
            try:
                return await anext(it), it
            except StopAsyncIteration as exc:
                raise UpstreamProtocolError(r.provider, "stream ended before any chunk") from exc

        try:
            routes = routes or self.routes_for(request, ctx.app)
            route, (first, rest) = await self._first_success(routes, start, attempts)
        except TokenportError as exc:
            await self.ledger.append(_error_record(request, ctx, attempts, exc, stream=True))
            await ctx.done(0.0, 0)
            raise
        return OpenStream(request, ctx, route, first, rest, attempts, ctx.elapsed_ms())

    async def relay(
        self, s: OpenStream, emit: Callable[[Chunk], bytes], end: Callable[[StreamEnd], bytes]
    ) -> AsyncGenerator[bytes, None]:
        """Yield the client's bytes: each chunk via `emit`, then the closing frame via `end`.

        The upstream's own usage chunk is held back: the gateway sends its own, priced for
        the route that served, after the ledger record is durable.
        """
        text: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        error: TokenportError | None = None
        chunk: Chunk | None = s.first
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    usage = chunk.usage
                else:
                    finish = chunk.finish_reason or finish
                    _collect(chunk, text)
                    yield emit(chunk)
                try:
                    chunk = await anext(s.rest)
                except StopAsyncIteration:
                    chunk = None
        except UpstreamError as exc:
            error = exc
            self.health.record_failure(s.route.provider, s.route.model_id, exc.retry_after)
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away mid-stream; record it without blocking the cancellation.
            self._spawn(
                self._finish_stream(
                    s, usage, text, finish, _Disconnected("client disconnected mid-stream")
                )
            )
            raise
        settled = await self._finish_stream(s, usage, text, finish, error)
        yield end(settled)

    async def _finish_stream(
        self,
        s: OpenStream,
        usage: Usage | None,
        text: list[str],
        finish: str | None,
        error: TokenportError | None,
    ) -> StreamEnd:
        if usage is None:
            usage = await self._estimate(s.request, "".join(text))
        cost = cost_usd(usage, s.route.pricing)
        latency = s.ctx.elapsed_ms()
        record = _ok_record(
            s.request,
            s.ctx,
            s.route,
            usage,
            cost,
            attempts=s.attempts,
            latency_ms=latency,
            ttft_ms=s.ttft_ms,
            finish=finish,
            stream=True,
        )
        if error is not None:
            record.status, record.error_class, record.http_status = (
                "error",
                type(error).__name__,
                502,
            )
        else:
            gen_s = max(1e-6, (latency - s.ttft_ms) / 1000.0)
            self.health.record_success(
                s.route.provider, s.route.model_id, s.ttft_ms, usage.completion_tokens, gen_s
            )
        await self.ledger.append(self._metered(record))
        await s.ctx.done(cost, usage.total_tokens)
        return StreamEnd(usage, cost, error)

    def _metered(self, record: LedgerRecord) -> LedgerRecord:
        """Add energy and region for requests a self-hosted deployment served."""
        rate = self.energy.get(record.provider or "")
        if rate is not None:
            record.energy_wh, record.energy_cost = rate.of(
                record.prompt_tokens, record.completion_tokens
            )
            record.region = rate.region
        return record

    async def _estimate(self, request: ChatRequest, completion: str) -> Usage:
        prompt = await asyncio.to_thread(self.counter.count_messages, request.messages)
        out = await asyncio.to_thread(self.counter.count, completion)
        return Usage(prompt_tokens=prompt, completion_tokens=out, estimated=True)

    def _spawn(self, coro: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                log.exception("recording an interrupted stream failed")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        for provider in self.providers.values():
            await provider.aclose()


class _Disconnected(TokenportError):
    code = "client_disconnected"


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _failed_attempt(route: Route, t0: float, exc: UpstreamError) -> Attempt:
    return Attempt(
        route.provider,
        route.upstream_model,
        "error",
        _ms(t0),
        error_class=type(exc).__name__,
        error=exc.message[:300],
        http_status=exc.http_status,
    )


def _call_text(call: dict[str, Any]) -> str:
    """A tool call's name and arguments: what its tokens were spent on."""
    fn = call.get("function") or {}
    return str(fn.get("name") or "") + str(fn.get("arguments") or "")


def _collect(chunk: Chunk, text: list[str]) -> None:
    d = chunk.delta
    if d is None:
        return
    if d.content:
        text.append(d.content)
    if d.reasoning_content:
        text.append(d.reasoning_content)
    text.extend(_call_text(call) for call in d.tool_calls or ())


def _response_text(resp: ChatResponse) -> str:
    parts: list[str] = []
    for choice in resp.choices:
        m = choice.message
        if isinstance(m.content, str):
            parts.append(m.content)
        parts.extend(_call_text(call) for call in m.tool_calls or ())
    return "".join(parts)


def _record(request: ChatRequest, ctx: RequestContext, status: str, **fields: Any) -> LedgerRecord:
    return LedgerRecord(
        id=ctx.gen_id,
        ts=ctx.ts,
        model_requested=ctx.requested_model or request.model,
        status=status,
        key_id=ctx.key_id,
        app=ctx.app,
        door=request.door,
        hold=ctx.hold,
        signals=ctx.signals,
        **fields,
    )


def _ok_record(
    request: ChatRequest,
    ctx: RequestContext,
    route: Route,
    usage: Usage,
    cost: float,
    *,
    attempts: list[Attempt],
    latency_ms: float,
    ttft_ms: float,
    finish: str | None,
    stream: bool,
) -> LedgerRecord:
    return _record(
        request,
        ctx,
        "ok",
        model_served=route.model_id,
        provider=route.provider,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost=cost,
        upstream_cost=usage.upstream_cost,
        latency_ms=latency_ms,
        ttft_ms=ttft_ms,
        usage_estimated=usage.estimated,
        finish_reason=finish,
        stream=stream,
        http_status=200,
        attempts=attempts,
    )


def _error_record(
    request: ChatRequest,
    ctx: RequestContext,
    attempts: list[Attempt],
    exc: TokenportError,
    stream: bool,
) -> LedgerRecord:
    return _record(
        request,
        ctx,
        "error",
        latency_ms=ctx.elapsed_ms(),
        error_class=type(exc).__name__,
        stream=stream,
        http_status=exc.status,
        attempts=attempts,
        provider=attempts[-1].provider if attempts else None,
    )
