"""The request pipeline between the API edge and the providers.

routes (from `routing.router`) -> try them in order (one short fallback loop shared by the
streamed, non-streamed and embeddings paths, under one deadline) -> settle usage and cost ->
append the ledger record. The record is made durable before the answer's last bytes leave,
so an answer a client saw is never missing from the ledger.

Running in production adds three hooks, each to its own few lines: the request's `Watch`
(`tokenport.telemetry`: metrics and traces) hears of every upstream attempt and of the
ledger record; the response cache (`tokenport.cache`) is asked before any route is tried
and given each clean answer, and a hit settles like any answer, as provider "cache" with no
tokens processed; a request cut by a draining process (`CUT`, `api/drain.py`) is recorded
and answered with `ShuttingDown`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import msgspec

from tokenport.cache.cache import CachedAnswer, ResponseCache, Ticket
from tokenport.cache.policy import CacheAsk
from tokenport.errors import (
    AllProvidersFailed,
    ServiceUnavailable,
    TokenportError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from tokenport.ledger.record import KeyHold, LedgerRecord
from tokenport.ledger.signals import RequestSignals
from tokenport.pricing import cost_usd
from tokenport.providers.base import Provider
from tokenport.providers.deployments import EnergyRate
from tokenport.routing.health import Health
from tokenport.telemetry.watch import NULL_WATCH, Watch
from tokenport.tokens import TokenCounter
from tokenport.values import (
    Attempt,
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    Pricing,
    Route,
    Usage,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The cancellation message of a request cut by a draining process (`api/drain.py`).
CUT = "tokenport: cut by a draining gateway"


def is_cut(exc: BaseException) -> bool:
    return isinstance(exc, asyncio.CancelledError) and exc.args[:1] == (CUT,)


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
    watch: Watch = NULL_WATCH  # metrics and traces (tokenport.telemetry)
    cache: CacheAsk | None = None  # the request asked for the response cache
    cache_status: str | None = None  # "HIT" or "MISS", for the X-Tokenport-Cache header
    # What the edge saw of the request, for the abuse scan (security/abuse/signals.py).
    signals: RequestSignals | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    async def done(self, cost: float, tokens: int) -> None:
        callback, self.on_done = self.on_done, None
        if callback is not None:
            self.watch.released()
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


@dataclass(slots=True)
class Prior:
    """Calls a request made before the one that answers it (a cascade's cheap and verifier
    calls, `tokenport.cascade`): their cost and tokens go into the request's one record."""

    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The answering call's route health was recorded when it ran (`call`), not to be again.
    answer_health_recorded: bool = False

    def add(self, usage: Usage, cost: float) -> None:
        self.cost += cost
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens


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
    ticket: Ticket | None = None  # the cache's: a hit replays, a storable miss is kept
    prior: Prior | None = None  # a cascade's earlier calls (`Gateway.open_call`)


@dataclass(slots=True)
class StreamEnd:
    """What the API edge needs to close a stream: usage and cost, or the error."""

    usage: Usage
    cost: float
    error: TokenportError | None = None


@dataclass
class Gateway:
    """Tries a request's routes in order and settles what the answer cost.

    Routing (which routes, in what order) is `routing.router.Router`'s; the gateway gets
    the routes. Every outcome goes through `_settle` (answered, streamed, embedded) or
    `_failed` (no route answered; the client went away before one did), so each request
    gets exactly one ledger record and one settlement of its reservation.
    """

    providers: Mapping[str, Provider]
    health: Health
    ledger: LedgerSink
    counter: TokenCounter
    attempt_timeout_s: float = 60.0
    stream_idle_timeout_s: float = 60.0
    # One deadline for all of a request's attempts (to its first byte, for a stream): a
    # fallback chain of slow failures cannot keep a client waiting attempts x timeout.
    request_timeout_s: float = 120.0
    energy: Mapping[str, EnergyRate] = field(default_factory=dict)
    cache: ResponseCache | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    # -- the three ways in ---------------------------------------------------------------

    async def complete(
        self, request: ChatRequest, ctx: RequestContext, routes: list[Route]
    ) -> Served:
        ticket = await self._cache_check(request, ctx)
        if ticket is not None and ticket.hit is not None and ticket.hit.response is not None:
            hit, resp = ticket.hit, ticket.hit.response
            resp.id, resp.model = ctx.gen_id, hit.model_id
            latency = ctx.elapsed_ms()
            _, cost = await self._settle(
                request,
                ctx,
                _cache_route(hit),
                None,
                "",
                attempts=[],
                latency_ms=latency,
                ttft_ms=latency,
                finish=hit.finish,
                stream=False,
                hit=hit,
            )
            return Served(_cache_route(hit), resp, hit.usage, cost)
        attempts: list[Attempt] = []
        route, resp = await self._attempts(
            request,
            ctx,
            routes,
            attempts,
            lambda p, r, timeout: p.chat(request, r, timeout),
            stream=False,
        )
        resp.id, resp.model = ctx.gen_id, route.model_id
        latency = ctx.elapsed_ms()
        usage, cost = await self._settle(
            request,
            ctx,
            route,
            resp.usage,
            _response_text(resp),
            attempts=attempts,
            latency_ms=latency,
            ttft_ms=latency,
            finish=resp.choices[0].finish_reason if resp.choices else None,
            stream=False,
        )
        if ticket is not None:
            kept = CachedAnswer(route.model_id, route.provider, usage, cost, response=resp)
            await self._cache_keep(
                ticket, kept, resp.choices[0].finish_reason if resp.choices else None
            )
        return Served(route, resp, usage, cost)

    async def open_stream(
        self, request: ChatRequest, ctx: RequestContext, routes: list[Route]
    ) -> OpenStream:
        """Try the routes until one streams its first chunk; failures up to here fall back."""
        ticket = await self._cache_check(request, ctx)
        if ticket is not None and ticket.hit is not None and ticket.hit.chunks:
            first, rest = _replay(ticket.hit.chunks)
            route = _cache_route(ticket.hit)
            return OpenStream(request, ctx, route, first, rest, [], ctx.elapsed_ms(), ticket)
        attempts: list[Attempt] = []
        route, (first, rest) = await self._attempts(
            request, ctx, routes, attempts, self._stream_start(request), stream=True
        )
        return OpenStream(request, ctx, route, first, rest, attempts, ctx.elapsed_ms(), ticket)

    def _stream_start(
        self, request: ChatRequest
    ) -> Callable[[Provider, Route, float], Awaitable[tuple[Chunk, AsyncIterator[Chunk]]]]:
        async def start(
            p: Provider, r: Route, timeout: float
        ) -> tuple[Chunk, AsyncIterator[Chunk]]:
            it = aiter(p.stream_chat(request, r, min(timeout, self.stream_idle_timeout_s)))
            try:
                return await anext(it), it
            except StopAsyncIteration as exc:
                raise UpstreamProtocolError(r.provider, "stream ended before any chunk") from exc

        return start

    # -- one request, several calls (a cascade: `tokenport.cascade`) ----------------------
    # `call` and `open_call` run the fallback loop without settling; the caller settles the
    # answer it serves once, with every other call as its `Prior`, through `settle` or
    # `relay`, or `fail`s the request: still one record and one settlement per request.
    # They skip the response cache: a cascade's answer depends on its verdict.

    async def call(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        routes: list[Route],
        attempts: list[Attempt],
    ) -> Served:
        t0 = time.perf_counter()
        route, resp = await self._first_success(
            routes, lambda p, r, timeout: p.chat(request, r, timeout), attempts, ctx
        )
        usage = resp.usage or await self._estimate(request, _response_text(resp))
        took = _ms(t0)
        self.health.record_success(
            route.provider, route.model_id, took, usage.completion_tokens, took / 1000.0
        )
        return Served(route, resp, usage, cost_usd(usage, route.pricing))

    async def open_call(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        routes: list[Route],
        attempts: list[Attempt],
    ) -> OpenStream:
        route, (first, rest) = await self._first_success(
            routes, self._stream_start(request), attempts, ctx
        )
        return OpenStream(request, ctx, route, first, rest, attempts, ctx.elapsed_ms())

    async def settle(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        served: Served,
        attempts: list[Attempt],
        prior: Prior,
    ) -> Served:
        """Settle an answer from `call`, with the calls before it, as the request's record."""
        resp = served.response
        resp.id, resp.model = ctx.gen_id, served.route.model_id
        latency = ctx.elapsed_ms()
        prior.answer_health_recorded = True
        usage, cost = await self._settle(
            request,
            ctx,
            served.route,
            served.usage,
            "",
            attempts=attempts,
            latency_ms=latency,
            ttft_ms=latency,
            finish=resp.choices[0].finish_reason if resp.choices else None,
            stream=False,
            prior=prior,
        )
        return Served(served.route, resp, usage, cost)

    async def fail(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        attempts: list[Attempt],
        exc: TokenportError,
        prior: Prior,
        *,
        stream: bool,
    ) -> None:
        """Record a request no call could answer, charging the calls it did make."""
        await self._failed(request, ctx, attempts, exc, stream=stream, prior=prior)

    def spawn(self, coro: Awaitable[object]) -> None:
        """Run a recording task past a cancelled request (drained at shutdown)."""
        self._spawn(coro)

    async def embed(
        self,
        request: EmbeddingRequest,
        routing: ChatRequest,
        ctx: RequestContext,
        routes: list[Route],
    ) -> Embedded:
        """Embeddings through the same fallback loop, ledger and settlement as chat.

        `routing` is the request as the router and admission see it: the model names,
        provider preferences and the input as one user turn (for token estimates).
        """
        attempts: list[Attempt] = []
        route, resp = await self._attempts(
            routing,
            ctx,
            routes,
            attempts,
            lambda p, r, timeout: p.embed(request, r, timeout),
            stream=False,
        )
        latency = ctx.elapsed_ms()
        usage, cost = await self._settle(
            routing,
            ctx,
            route,
            resp.usage,
            "",
            attempts=attempts,
            latency_ms=latency,
            ttft_ms=latency,
            finish=None,
            stream=False,
        )
        return Embedded(route, resp, usage, cost)

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
        # A storable cache miss keeps its chunks, to replay them to the next asker.
        ticket = s.ticket
        kept: list[Chunk] | None = [] if ticket and ticket.storable and not ticket.hit else None
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    usage = chunk.usage
                else:
                    finish = chunk.finish_reason or finish
                    _collect(chunk, text)
                    if kept is not None:
                        kept.append(chunk)
                    yield emit(chunk)
                try:
                    chunk = await anext(s.rest)
                except StopAsyncIteration:
                    chunk = None
        except UpstreamError as exc:
            error = exc
            self.health.record_failure(s.route.provider, s.route.model_id, exc.retry_after)
        except (asyncio.CancelledError, GeneratorExit) as exc:
            if not is_cut(exc):
                # The client went away mid-stream; record it without blocking the cancellation.
                gone = ClientDisconnected("client disconnected mid-stream")
                self._spawn(self._settle_stream(s, usage, text, finish, gone))
                raise
            error = _cut()  # a draining process: the stream ends with its error event
        settled = await self._settle_stream(s, usage, text, finish, error)
        if kept is not None and ticket is not None and error is None:
            answer = CachedAnswer(s.route.model_id, s.route.provider, settled.usage, settled.cost)
            answer.chunks = kept
            await self._cache_keep(ticket, answer, finish)
        yield end(settled)

    # -- the fallback loop ---------------------------------------------------------------

    async def _attempts(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        routes: list[Route],
        attempts: list[Attempt],
        start: Callable[[Provider, Route, float], Awaitable[T]],
        *,
        stream: bool,
    ) -> tuple[Route, T]:
        """The first route that answers. A failure here, or a client gone before any route
        answered, is recorded and its reservation given back before the error goes on."""
        try:
            return await self._first_success(routes, start, attempts, ctx)
        except TokenportError as exc:
            await self._failed(request, ctx, attempts, exc, stream=stream)
            raise
        except asyncio.CancelledError as exc:
            if is_cut(exc):  # a draining process: recorded, then answered 503
                cut = _cut()
                await self._failed(request, ctx, attempts, cut, stream=stream)
                raise cut from None
            gone = ClientDisconnected("client disconnected before the answer started")
            self._spawn(self._failed(request, ctx, attempts, gone, stream=stream))
            raise

    async def _first_success(
        self,
        routes: list[Route],
        start: Callable[[Provider, Route, float], Awaitable[T]],
        attempts: list[Attempt],
        ctx: RequestContext,
    ) -> tuple[Route, T]:
        deadline = ctx.started + self.request_timeout_s
        last: TokenportError | None = None
        for route in routes:
            left = deadline - time.perf_counter()
            if left <= 0:
                last = UpstreamTimeout(
                    route.provider,
                    f"the request's deadline of {self.request_timeout_s:g}s passed before "
                    "this route could be tried",
                )
                break
            t0 = time.perf_counter()
            seen = ctx.watch.attempt(route)
            try:
                result = await start(
                    self.providers[route.provider], route, min(self.attempt_timeout_s, left)
                )
            except UpstreamError as exc:
                attempts.append(_failed_attempt(route, t0, exc))
                seen.end(attempts[-1])
                self.health.record_failure(route.provider, route.model_id, exc.retry_after)
                last = exc
                if not exc.retryable:
                    raise
                continue
            attempts.append(Attempt(route.provider, route.upstream_model, "ok", _ms(t0)))
            seen.end(attempts[-1])
            return route, result
        raise AllProvidersFailed(attempts, last)

    # -- settling ------------------------------------------------------------------------

    async def _settle(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        route: Route,
        usage: Usage | None,
        completion: str,
        *,
        attempts: list[Attempt],
        latency_ms: float,
        ttft_ms: float,
        finish: str | None,
        stream: bool,
        error: TokenportError | None = None,
        hit: CachedAnswer | None = None,
        prior: Prior | None = None,
    ) -> tuple[Usage, float]:
        """The one way an answer is settled: usage (counted when the upstream gave none),
        cost at the serving route's price, route health, one ledger record made durable,
        then the reservation settled to the actual cost.

        A cache `hit` processed no tokens anywhere: none are counted (so usage and rankings
        stay true), the key pays nothing unless hits are charged, and the record keeps
        what the answer cost when an upstream served it (`cost_saved`).

        `prior`: a cascade's earlier calls, whose cost and tokens are added to the record and
        the settlement (their route health was recorded as they ran)."""
        if hit is not None:
            usage, cost = Usage(), (self.cache.charge(hit) if self.cache is not None else 0.0)
        else:
            if usage is None:
                usage = await self._estimate(request, completion)
            cost = cost_usd(usage, route.pricing)
        answer_tokens = usage.completion_tokens
        if prior is not None:
            _price_answer(attempts, cost)
            cost += prior.cost
            usage = msgspec.structs.replace(
                usage,
                prompt_tokens=usage.prompt_tokens + prior.prompt_tokens,
                completion_tokens=usage.completion_tokens + prior.completion_tokens,
            )
        record = _ok_record(
            request,
            ctx,
            route,
            usage,
            cost,
            attempts=attempts,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            finish=finish,
            stream=stream,
        )
        if hit is not None:
            record.cache_hit, record.cost_saved = True, hit.cost
        if error is not None:
            record.status, record.error_class = "error", type(error).__name__
            own = isinstance(error, ClientDisconnected | ShuttingDown)
            record.http_status = error.status if own else 502
        elif hit is None and (prior is None or not prior.answer_health_recorded):
            gen_s = max(1e-6, (latency_ms - ttft_ms) / 1000.0) if stream else latency_ms / 1000
            self.health.record_success(
                route.provider, route.model_id, ttft_ms, answer_tokens, gen_s
            )
        await self._append(ctx, self._metered(record))
        await ctx.done(cost, usage.total_tokens)
        return usage, cost

    async def _settle_stream(
        self,
        s: OpenStream,
        usage: Usage | None,
        text: list[str],
        finish: str | None,
        error: TokenportError | None,
    ) -> StreamEnd:
        hit = s.ticket.hit if s.ticket is not None else None
        usage, cost = await self._settle(
            s.request,
            s.ctx,
            s.route,
            usage,
            "".join(text),
            attempts=s.attempts,
            latency_ms=s.ctx.elapsed_ms(),
            ttft_ms=s.ttft_ms,
            finish=finish,
            stream=True,
            error=error,
            hit=hit,
            prior=s.prior,
        )
        return StreamEnd(hit.usage if hit is not None else usage, cost, error)

    async def _failed(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        attempts: list[Attempt],
        exc: TokenportError,
        *,
        stream: bool,
        prior: Prior | None = None,
    ) -> None:
        record = _error_record(request, ctx, attempts, exc, stream=stream)
        spent = prior or Prior()
        record.cost = spent.cost
        record.prompt_tokens = spent.prompt_tokens
        record.completion_tokens = spent.completion_tokens
        await self._append(ctx, record)
        await ctx.done(spent.cost, spent.prompt_tokens + spent.completion_tokens)

    async def _append(self, ctx: RequestContext, record: LedgerRecord) -> None:
        await self.ledger.append(record)
        ctx.watch.recorded(record, ctx.cache_status)

    # -- the response cache (tokenport.cache) ----------------------------------------------

    async def _cache_check(self, request: ChatRequest, ctx: RequestContext) -> Ticket | None:
        if ctx.cache is None or self.cache is None:
            return None
        ticket = await self.cache.check(request, ctx.cache, ctx.key_id)
        ctx.cache_status = "HIT" if ticket.hit is not None else "MISS"
        return ticket

    async def _cache_keep(self, ticket: Ticket, answer: CachedAnswer, finish: str | None) -> None:
        if self.cache is not None:
            answer.finish = finish
            await self.cache.keep(ticket, answer)

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
                log.exception("recording an interrupted request failed")

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
        if self.cache is not None:
            await self.cache.aclose()


class ClientDisconnected(TokenportError):
    """The client went away before its answer was whole (recorded as HTTP 499)."""

    status = 499
    code = "client_disconnected"


class ShuttingDown(ServiceUnavailable):
    """A draining process cut the request after its grace period (`api/drain.py`)."""

    code = "shutting_down"


def _cut() -> ShuttingDown:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # the cut is handled here: the request ends with an answer
    return ShuttingDown(
        "The gateway is shutting down and cut this request before its answer was complete. "
        "Retry it: another gateway will serve it."
    )


def shutting_down() -> ShuttingDown:
    """What a request cut by a draining process ends with (a cascade's too)."""
    return _cut()


def _price_answer(attempts: list[Attempt], cost: float) -> None:
    """The answering call of a request with several (its last ok attempt, priced only once
    its usage is known, as for a stream) gets its own cost in the record's attempts."""
    for i in range(len(attempts) - 1, -1, -1):
        if attempts[i].status == "ok":
            if attempts[i].cost is None:
                attempts[i] = msgspec.structs.replace(attempts[i], cost=cost)
            return


def _cache_route(hit: CachedAnswer) -> Route:
    return Route("cache", hit.model_id, hit.model_id, Pricing())


def _replay(chunks: list[Chunk]) -> tuple[Chunk, AsyncIterator[Chunk]]:
    """A stream served from the cache: the kept chunks, in order, as the upstream sent them."""

    async def rest() -> AsyncIterator[Chunk]:
        for chunk in chunks[1:]:
            yield chunk

    return chunks[0], rest()


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
