"""The fallback loop and settlement: `Gateway`, what the edge hands a request's routes to.

(The package docstring, `tokenport.gateway`, tells the whole pipeline.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from tokenport.cache.cache import CachedAnswer, ResponseCache, Ticket
from tokenport.errors import (
    AllProvidersFailed,
    TokenportError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from tokenport.gateway.context import (
    ClientDisconnected,
    Embedded,
    LedgerSink,
    OpenStream,
    Prior,
    RequestContext,
    Served,
    StreamEnd,
    cut_short,
    is_cut,
)
from tokenport.gateway.hedge import Hedge, hedge_for, hedged
from tokenport.gateway.records import (
    cache_route,
    collect,
    cut_attempt,
    failed_attempt,
    ms,
    replay,
    response_text,
)
from tokenport.gateway.resume import Partial, continuation, continued, resumable
from tokenport.gateway.retry import RetryBudget, RetryPlan, RetryPolicy
from tokenport.gateway.settle import Settler
from tokenport.pricing import cost_usd
from tokenport.providers.base import Provider
from tokenport.providers.deployments import EnergyRate
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import (
    Attempt,
    ChatRequest,
    Chunk,
    EmbeddingRequest,
    Route,
    Usage,
)

log = logging.getLogger("tokenport.gateway")
T = TypeVar("T")


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
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.settler = Settler(self.health, self.ledger, self.counter, self.energy, self.cache)
        p = self.retry
        # A fresh process starts with a full burst of retries, then earns them by its load.
        self.budget = RetryBudget(
            p.budget_ratio, p.budget_min_per_s, p.budget_burst, balance=p.budget_burst
        )

    # -- the three ways in ---------------------------------------------------------------

    async def complete(
        self, request: ChatRequest, ctx: RequestContext, routes: list[Route]
    ) -> Served:
        ticket = await self._cache_check(request, ctx)
        if ticket is not None and ticket.hit is not None and ticket.hit.response is not None:
            hit, resp = ticket.hit, ticket.hit.response
            resp.id, resp.model = ctx.gen_id, hit.model_id
            latency = ctx.elapsed_ms()
            _, cost = await self.settler.settle(
                request,
                ctx,
                cache_route(hit),
                None,
                "",
                attempts=[],
                latency_ms=latency,
                ttft_ms=latency,
                finish=hit.finish,
                stream=False,
                hit=hit,
            )
            return Served(cache_route(hit), resp, hit.usage, cost)
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
        if ctx.on_answer is not None:  # a plugin's (response-healing), before it is settled
            ctx.on_answer(request, resp)
        latency = ctx.elapsed_ms()
        usage, cost = await self.settler.settle(
            request,
            ctx,
            route,
            resp.usage,
            response_text(resp),
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
            first, rest = replay(ticket.hit.chunks)
            route = cache_route(ticket.hit)
            return OpenStream(request, ctx, route, first, rest, [], ctx.elapsed_ms(), ticket)
        attempts: list[Attempt] = []
        route, (first, rest) = await self._attempts(
            request, ctx, routes, attempts, self._stream_start(request), stream=True
        )
        opened = OpenStream(request, ctx, route, first, rest, attempts, ctx.elapsed_ms(), ticket)
        opened.routes = routes
        return opened

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
        usage = resp.usage or await self.settler.estimate(request, response_text(resp))
        took = ms(t0)
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
        opened = OpenStream(request, ctx, route, first, rest, attempts, ctx.elapsed_ms())
        opened.routes = routes
        return opened

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
        usage, cost = await self.settler.settle(
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
        await self.settler.failed(request, ctx, attempts, exc, stream=stream, prior=prior)

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
        usage, cost = await self.settler.settle(
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
        sent: list[Chunk] = []  # what the client has of the answer: a resume's prefix
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    usage = chunk.usage
                else:
                    finish = chunk.finish_reason or finish
                    collect(chunk, text)
                    sent.append(chunk)
                    if kept is not None:
                        kept.append(chunk)
                    yield emit(chunk)
                try:
                    chunk = await anext(s.rest)
                except StopAsyncIteration:
                    chunk = None
                except UpstreamError as exc:
                    self.health.record_failure(s.route.provider, s.route.model_id, exc.retry_after)
                    if finish is not None:  # cut after the answer was whole: nothing to resume
                        break
                    chunk = await self._resume(s, sent, text, exc)
        except UpstreamError as exc:
            error = exc
        except (asyncio.CancelledError, GeneratorExit) as exc:
            if not is_cut(exc):
                # The client went away mid-stream; record it without blocking the cancellation.
                gone = ClientDisconnected("client disconnected mid-stream")
                self._spawn(self._settle_stream(s, usage, text, finish, gone))
                raise
            error = cut_short()  # a draining process: the stream ends with its error event
        settled = await self._settle_stream(s, usage, text, finish, error)
        if kept is not None and ticket is not None and error is None:
            answer = CachedAnswer(s.route.model_id, s.route.provider, settled.usage, settled.cost)
            answer.chunks = kept
            await self._cache_keep(ticket, answer, finish)
        yield end(settled)

    async def _resume(
        self, s: OpenStream, sent: list[Chunk], text: list[str], exc: UpstreamError
    ) -> Chunk:
        """Continue a stream cut mid-answer (`gateway/resume.py`) on a route that can, and
        return the continuation's first chunk; `exc` goes on when no route can. The cut
        attempt's tokens (estimated: its usage never came) are charged as a prior call."""
        partial = Partial.of(sent)
        routes = [r for r in s.routes or [s.route] if r != s.route] + [s.route]
        able = [r for r in routes if resumable(self.providers[r.provider].spec, partial)]
        if not (self.retry.resume and able and self.budget.spend()):
            raise exc
        spent = await self.settler.estimate(s.request, "".join(text))
        cost = cost_usd(spent, s.route.pricing)
        s.prior = s.prior or Prior()
        s.prior.add(spent, cost)
        s.attempts[-1] = cut_attempt(s.attempts[-1], exc, cost)
        text.clear()
        s.cut_tokens += spent.completion_tokens
        used = s.cut_tokens

        async def start(
            p: Provider, r: Route, timeout: float
        ) -> tuple[Chunk, AsyncIterator[Chunk]]:
            request, trim = continuation(s.request, partial, p.spec, used)
            upstream = p.stream_chat(request, r, min(timeout, self.stream_idle_timeout_s))
            it = aiter(continued(upstream, partial, trim))
            try:
                return await anext(it), it
            except StopAsyncIteration as err:
                raise UpstreamProtocolError(r.provider, "continuation ended at once") from err

        deadline = time.perf_counter() + self.request_timeout_s
        try:
            s.route, (first, s.rest) = await self._first_success(
                able, start, s.attempts, s.ctx, deadline=deadline, kind="resume", reason=exc.code
            )
        except AllProvidersFailed:
            raise exc from None  # the stream ends with the cut's error event, as without resume
        return first

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
            hedge = None  # off unless the request or its model asks (`gateway/hedge.py`)
            if request.provider is not None or self.retry.hedge_models:
                hedge = hedge_for(request, routes, self.health, self.retry, self.counter)
            return await self._first_success(routes, start, attempts, ctx, hedge=hedge)
        except TokenportError as exc:
            await self.settler.failed(request, ctx, attempts, exc, stream=stream)
            raise
        except asyncio.CancelledError as exc:
            if is_cut(exc):  # a draining process: recorded, then answered 503
                cut = cut_short()
                await self.settler.failed(request, ctx, attempts, cut, stream=stream)
                raise cut from None
            gone = ClientDisconnected("client disconnected before the answer started")
            self._spawn(self.settler.failed(request, ctx, attempts, gone, stream=stream))
            raise

    async def _first_success(
        self,
        routes: list[Route],
        start: Callable[[Provider, Route, float], Awaitable[T]],
        attempts: list[Attempt],
        ctx: RequestContext,
        *,
        deadline: float | None = None,
        kind: str | None = None,
        reason: str | None = None,
        hedge: Hedge | None = None,
    ) -> tuple[Route, T]:
        """Attempts until one answers, each within what is left of the deadline. After a
        retryable failure the retry plan (`gateway/retry.py`, made at the first failure
        only) picks the next route and the backoff, within the attempt cap and budget.
        A hedged request's first attempt races a second route (`gateway/hedge.py`)."""
        if deadline is None:
            deadline = ctx.started + self.request_timeout_s
            self.budget.requests += 1  # what earns the retry budget its tokens
        plan: RetryPlan | None = None
        last: TokenportError | None = None
        i = 0
        while i < len(routes):
            route = routes[i]
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
            timeout = min(self.attempt_timeout_s, left)
            try:
                if hedge is not None:
                    i, result = await hedged(
                        self.providers, self.health, routes, start, attempts, timeout, hedge
                    )
                    route, kind = routes[i], ("hedge" if i else None)
                    hedge = None
                else:
                    result = await start(self.providers[route.provider], route, timeout)
            except UpstreamError as exc:
                hedge = None
                attempts.append(failed_attempt(route, t0, exc, kind, reason))
                seen.end(attempts[-1])
                self.health.record_failure(route.provider, route.model_id, exc.retry_after)
                last = exc
                if not exc.retryable:
                    raise
                plan = plan or RetryPlan(self.retry, self.budget, routes, self.health, deadline)
                step = plan.next(i, exc)
                if step is None:
                    break
                if step.wait:
                    await asyncio.sleep(step.wait)
                i, kind, reason = step.index, step.kind, step.reason
                continue
            ok = Attempt(route.provider, route.upstream_model, "ok", ms(t0))
            if kind is not None:
                ok.kind, ok.reason = kind, reason
            attempts.append(ok)
            seen.end(attempts[-1])
            return route, result
        raise AllProvidersFailed(attempts, last)

    # -- settling ------------------------------------------------------------------------

    # -- settling (gateway/settle.py) --------------------------------------------------

    async def _settle_stream(
        self,
        s: OpenStream,
        usage: Usage | None,
        text: list[str],
        finish: str | None,
        error: TokenportError | None,
    ) -> StreamEnd:
        hit = s.ticket.hit if s.ticket is not None else None
        usage, cost = await self.settler.settle(
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
