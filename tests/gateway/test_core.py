"""The gateway core with stub providers: the fallback loop, the request deadline, settling,
and what happens when a client goes away. No HTTP: each stub is a scripted `Provider`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tokenport.errors import (
    AllProvidersFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.gateway import ClientDisconnected, Gateway, RequestContext, StreamEnd
from tokenport.gateway.retry import RetryPolicy
from tokenport.ledger.record import LedgerRecord
from tokenport.providers.deployments import EnergyRate
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Choice,
    Chunk,
    Delta,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Pricing,
    ProviderPrefs,
    ProviderSpec,
    Route,
    Usage,
)

pytestmark = pytest.mark.timeout(20)
PRICE = Pricing(input=1.0, output=2.0)


class Stub:
    """A provider whose every call does what `script` says: an exception to raise, a delay
    before answering, and the text to answer (streamed one word per chunk)."""

    def __init__(self, name: str, *script: Any, delay: float = 0.0, usage: bool = True) -> None:
        self.spec = ProviderSpec(name=name, base_url="http://stub")
        self.script = list(script)
        self.delay = delay
        self.usage = usage
        self.calls = 0
        self.timeouts: list[float] = []

    def _next(self) -> Any:
        self.calls += 1
        return self.script.pop(0) if self.script else "hello there"

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        self.timeouts.append(timeout)
        step = self._next()
        if isinstance(step, Exception):
            raise step
        if self.delay:  # as the HTTP client does: the attempt's deadline is an upstream timeout
            try:
                await asyncio.wait_for(asyncio.sleep(self.delay), timeout)
            except TimeoutError as exc:
                raise UpstreamTimeout(self.spec.name, f"no answer within {timeout:g}s") from exc
        usage = Usage(prompt_tokens=10, completion_tokens=2) if self.usage else None
        message = Message(role="assistant", content=step)
        return ChatResponse("up", route.upstream_model, 0, [Choice(0, message, "stop")], usage)

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        self.timeouts.append(timeout)
        step = self._next()
        if isinstance(step, Exception):
            raise step
        if self.delay:
            await asyncio.sleep(self.delay)
        for word in step.split():
            yield Chunk(delta=Delta(content=word + " "))
            await asyncio.sleep(0)
        yield Chunk(finish_reason="stop")
        if self.usage:
            yield Chunk(usage=Usage(prompt_tokens=10, completion_tokens=len(step.split())))

    async def embed(
        self, request: EmbeddingRequest, route: Route, timeout: float
    ) -> EmbeddingResponse:
        self._next()
        return EmbeddingResponse([Embedding(0, [0.5])], "e", Usage(prompt_tokens=7))

    async def aclose(self) -> None:
        return None


class Sink:
    def __init__(self) -> None:
        self.records: list[LedgerRecord] = []

    async def append(self, record: LedgerRecord) -> None:
        self.records.append(record)

    async def get(self, record_id: str) -> LedgerRecord | None:
        return next((r for r in self.records if r.id == record_id), None)


def _keep(ends: list[StreamEnd], e: StreamEnd) -> bytes:
    ends.append(e)
    return b"END"


def route(name: str) -> Route:
    return Route(name, "m", f"{name}/m", PRICE)


def gateway(*stubs: Stub, **kw: Any) -> tuple[Gateway, Sink]:
    sink = Sink()
    gw = Gateway(
        providers={s.spec.name: s for s in stubs},
        health=Health(5, 30.0),
        ledger=sink,
        counter=TokenCounter(gguf=None),
        **kw,
    )
    return gw, sink


def request(stream: bool = False) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message(role="user", content="hi")], stream=stream)


class Settled:
    def __init__(self, ctx: RequestContext) -> None:
        self.calls: list[tuple[float, int]] = []

        async def done(cost: float, tokens: int) -> None:
            self.calls.append((cost, tokens))

        ctx.on_done = done


async def test_falls_back_in_order_and_prices_the_route_that_served() -> None:
    a, b = Stub("a", UpstreamServerError("a", "boom")), Stub("b")
    gw, sink = gateway(a, b)
    ctx = RequestContext("gen-1")
    settled = Settled(ctx)
    served = await gw.complete(request(), ctx, [route("a"), route("b")])
    assert served.route.provider == "b" and (a.calls, b.calls) == (1, 1)
    assert served.cost == pytest.approx((10 * 1.0 + 2 * 2.0) / 1e6)
    [record] = sink.records
    assert record.status == "ok" and [x.status for x in record.attempts] == ["error", "ok"]
    assert settled.calls == [(served.cost, 12)]


async def test_a_client_error_is_not_retried() -> None:
    a, b = Stub("a", UpstreamBadRequest("a", "bad schema")), Stub("b")
    gw, sink = gateway(a, b)
    ctx = RequestContext("gen-2")
    settled = Settled(ctx)
    with pytest.raises(UpstreamBadRequest):
        await gw.complete(request(), ctx, [route("a"), route("b")])
    assert b.calls == 0 and sink.records[0].status == "error"
    assert settled.calls == [(0.0, 0)]  # the reservation given back


async def test_one_deadline_across_attempts() -> None:
    slow = [Stub(n, delay=5.0) for n in ("a", "b", "c")]
    gw, sink = gateway(*slow, attempt_timeout_s=5.0, request_timeout_s=0.6)
    ctx = RequestContext("gen-3")
    t0 = time.perf_counter()
    with pytest.raises(AllProvidersFailed) as failed:
        await gw.complete(request(), ctx, [route("a"), route("b"), route("c")])
    assert time.perf_counter() - t0 < 2.0  # not 3 x 5 s
    assert slow[0].timeouts == [pytest.approx(0.6, abs=0.05)]  # the attempt got what was left
    assert slow[2].calls == 0
    assert isinstance(failed.value.last, UpstreamTimeout)
    assert failed.value.status == 504 and sink.records[0].status == "error"


async def test_missing_usage_is_estimated_and_flagged() -> None:
    gw, sink = gateway(Stub("a", usage=False))
    served = await gw.complete(request(), RequestContext("gen-4"), [route("a")])
    assert served.usage.estimated and served.usage.completion_tokens > 0
    assert sink.records[0].usage_estimated is True


async def test_stream_settles_once_after_its_last_chunk() -> None:
    gw, sink = gateway(Stub("a", "one two three"))
    ctx = RequestContext("gen-5")
    settled = Settled(ctx)
    opened = await gw.open_stream(request(True), ctx, [route("a")])
    ends: list[StreamEnd] = []
    frames = [
        f
        async for f in gw.relay(
            opened,
            lambda c: (c.delta.content or "").encode() if c.delta else b"",
            lambda e: _keep(ends, e),
        )
    ]
    assert b"".join(frames) == b"one two three END"
    assert ends[0].usage.completion_tokens == 3 and ends[0].error is None
    [record] = sink.records
    assert record.stream and record.status == "ok" and record.ttft_ms is not None
    assert settled.calls == [(ends[0].cost, 13)]


async def test_client_gone_before_the_first_chunk_is_recorded_and_released() -> None:
    gw, sink = gateway(Stub("a", delay=5.0))
    ctx = RequestContext("gen-6")
    settled = Settled(ctx)
    task = asyncio.create_task(gw.open_stream(request(True), ctx, [route("a")]))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await gw.drain()
    [record] = sink.records
    assert record.status == "error" and record.error_class == "ClientDisconnected"
    assert record.http_status == ClientDisconnected.status == 499
    assert settled.calls == [(0.0, 0)]


async def test_client_gone_mid_stream_is_recorded_once() -> None:
    gw, sink = gateway(Stub("a", "a b c d e f"))
    ctx = RequestContext("gen-7")
    settled = Settled(ctx)
    opened = await gw.open_stream(request(True), ctx, [route("a")])
    frames = gw.relay(opened, lambda c: b"x", lambda e: b"END")
    await anext(frames)
    await frames.aclose()  # what the edge does when the client disconnects
    await gw.drain()
    [record] = sink.records
    assert record.error_class == "ClientDisconnected" and record.http_status == 499
    assert len(settled.calls) == 1


async def test_embeddings_and_energy_metering() -> None:
    rate = EnergyRate(
        wh_per_output_token=0.01, wh_per_prompt_token=0.001, usd_per_kwh=0.1, region="x"
    )
    gw, sink = gateway(Stub("a"), energy={"a": rate})
    done = await gw.embed(
        EmbeddingRequest(model="m", input="hi"), request(), RequestContext("gen-8"), [route("a")]
    )
    assert done.usage.prompt_tokens == 7 and done.cost == pytest.approx(7 / 1e6)
    record = sink.records[0]
    assert record.region == "x" and record.energy_wh == pytest.approx(0.007)


# -- retries (gateway/retry.py) -------------------------------------------------------------


def _policy(**kw: Any) -> RetryPolicy:
    return RetryPolicy(**{"backoff_base_s": 0.01, **kw})


async def test_a_lone_route_is_retried_after_transient_failures() -> None:
    a = Stub("a", UpstreamServerError("a", "boom", 503), UpstreamRateLimited("a", "429", 429))
    gw, sink = gateway(a, retry=_policy())
    served = await gw.complete(request(), RequestContext("gen-r1"), [route("a")])
    assert served.route.provider == "a" and a.calls == 3
    [record] = sink.records
    assert [(x.status, x.kind, x.reason) for x in record.attempts] == [
        ("error", None, None),
        ("error", "retry", "upstream_server_error"),
        ("ok", "retry", "upstream_rate_limited"),
    ]
    assert record.attempts[-1].cost == served.cost and record.attempts[0].cost == 0.0


async def test_retry_after_is_waited_before_the_same_route() -> None:
    a = Stub("a", UpstreamRateLimited("a", "429", 429, retry_after=0.3))
    gw, _ = gateway(a, retry=_policy())
    t0 = time.perf_counter()
    await gw.complete(request(), RequestContext("gen-r2"), [route("a")])
    assert time.perf_counter() - t0 >= 0.3 and a.calls == 2


async def test_the_attempt_cap_ends_the_retries() -> None:
    fails = [UpstreamServerError("x", "boom", 500) for _ in range(10)]
    a, b = Stub("a", *fails), Stub("b", *fails)
    gw, sink = gateway(a, b, retry=_policy(max_attempts=3))
    with pytest.raises(AllProvidersFailed):
        await gw.complete(request(), RequestContext("gen-r3"), [route("a"), route("b")])
    assert a.calls + b.calls == 3 and len(sink.records[0].attempts) == 3


async def test_a_spent_budget_means_no_retry() -> None:
    a = Stub("a", UpstreamServerError("a", "boom", 500))
    gw, _ = gateway(a, retry=_policy(budget_ratio=0.0, budget_min_per_s=0.0, budget_burst=1.0))
    gw.budget.balance = 0.0
    with pytest.raises(AllProvidersFailed):
        await gw.complete(request(), RequestContext("gen-r4"), [route("a")])
    assert a.calls == 1 and gw.budget.denied == 1


# -- hedged requests (gateway/hedge.py) -----------------------------------------------------


def _seen_fast(gw: Gateway, name: str, ttft_ms: float = 50.0) -> None:
    for _ in range(5):
        gw.health.record_success(name, f"{name}/m", ttft_ms, 2, 0.1)


def _hedged_request(stream: bool = False, hedge: bool | None = True) -> ChatRequest:
    r = request(stream)
    r.provider = ProviderPrefs(hedge=hedge)
    return r


async def test_no_hedge_unless_asked() -> None:
    a, b = Stub("a", delay=0.4), Stub("b")
    gw, _ = gateway(a, b)
    _seen_fast(gw, "a")
    served = await gw.complete(request(), RequestContext("gen-h0"), [route("a"), route("b")])
    assert served.route.provider == "a" and b.calls == 0


async def test_a_slow_first_attempt_is_hedged_and_the_loser_charged() -> None:
    a, b = Stub("a", delay=2.0), Stub("b")
    gw, sink = gateway(a, b)
    _seen_fast(gw, "a")
    t0 = time.perf_counter()
    served = await gw.complete(
        _hedged_request(), RequestContext("gen-h1"), [route("a"), route("b")]
    )
    assert served.route.provider == "b" and time.perf_counter() - t0 < 1.0
    [record] = sink.records
    lost, won = record.attempts
    assert (lost.provider, lost.error_class, lost.kind) == ("a", "HedgeCancelled", None)
    assert (won.provider, won.status, won.kind) == ("b", "ok", "hedge")
    assert lost.cost is not None and lost.cost > 0 and won.cost is not None
    assert record.cost == pytest.approx(served.cost) == pytest.approx(won.cost + lost.cost)


async def test_a_first_attempt_that_answers_in_time_is_not_hedged() -> None:
    a, b = Stub("a", delay=0.01), Stub("b")
    gw, _ = gateway(a, b, retry=RetryPolicy(hedge_models=("m",), hedge_min_ms=200.0))
    _seen_fast(gw, "a", 10.0)
    served = await gw.complete(request(), RequestContext("gen-h2"), [route("a"), route("b")])
    assert served.route.provider == "a" and b.calls == 0


async def test_a_hedged_stream_keeps_the_first_to_start() -> None:
    a, b = Stub("a", "slow answer", delay=2.0), Stub("b", "fast answer")
    gw, sink = gateway(a, b, retry=RetryPolicy(hedge_models=("*",)))
    _seen_fast(gw, "a")
    opened = await gw.open_stream(request(True), RequestContext("gen-h3"), [route("a"), route("b")])
    frames = [f async for f in gw.relay(opened, lambda c: b"x", lambda e: b"END")]
    assert opened.route.provider == "b" and frames[-1] == b"END"
    assert [x.error_class for x in sink.records[0].attempts] == ["HedgeCancelled", None]
