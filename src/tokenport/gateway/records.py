"""Building one request's ledger record, and the text its tokens were spent on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from tokenport.cache.cache import CachedAnswer
from tokenport.errors import TokenportError, UpstreamError
from tokenport.gateway.context import RequestContext
from tokenport.ledger.record import LedgerRecord
from tokenport.pricing import cost_usd
from tokenport.values import Attempt, ChatRequest, ChatResponse, Chunk, Pricing, Route, Usage


def price_answer(attempts: list[Attempt], cost: float) -> None:
    """The answering call of a request with several (its last ok attempt, priced only once
    its usage is known, as for a stream) gets its own cost in the record's attempts."""
    for i in range(len(attempts) - 1, -1, -1):
        if attempts[i].status == "ok":
            if attempts[i].cost is None:
                attempts[i] = msgspec.structs.replace(attempts[i], cost=cost)
            return


def cache_route(hit: CachedAnswer) -> Route:
    return Route("cache", hit.model_id, hit.model_id, Pricing())


def replay(chunks: list[Chunk]) -> tuple[Chunk, AsyncIterator[Chunk]]:
    """A stream served from the cache: the kept chunks, in order, as the upstream sent them."""

    async def rest() -> AsyncIterator[Chunk]:
        for chunk in chunks[1:]:
            yield chunk

    return chunks[0], rest()


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def failed_attempt(
    route: Route,
    t0: float,
    exc: UpstreamError,
    kind: str | None = None,
    reason: str | None = None,
) -> Attempt:
    return Attempt(
        route.provider,
        route.upstream_model,
        "error",
        ms(t0),
        error_class=type(exc).__name__,
        error=exc.message[:300],
        http_status=exc.http_status,
        kind=kind,
        reason=reason,
        cost=0.0,  # an upstream error bills nothing (a stream cut mid-answer: `cut_attempt`)
    )


def cut_attempt(attempt: Attempt, exc: UpstreamError, cost: float) -> Attempt:
    """The attempt whose stream was cut mid-answer: an error, which cost what it sent."""
    return msgspec.structs.replace(
        attempt,
        status="error",
        error_class=type(exc).__name__,
        error=exc.message[:300],
        http_status=exc.http_status,
        cost=cost,
    )


def hedge_lost(
    route: Route, t0: float, kind: str | None, prompt_tokens: int, result: object
) -> Attempt:
    """The attempt a hedged request did not use, priced as its hedging cost: from its own
    usage when it had answered in full, else the prompt it was sent (estimated)."""
    usage = getattr(result, "usage", None)
    if not isinstance(usage, Usage):
        usage = Usage(prompt_tokens=prompt_tokens, estimated=True)
    return Attempt(
        route.provider,
        route.upstream_model,
        "error",
        ms(t0),
        error_class="HedgeCancelled",
        error="another attempt of the hedged request answered first",
        kind=kind,
        cost=cost_usd(usage, route.pricing),
    )


def hedging_cost(attempts: list[Attempt]) -> float:
    """What a hedged request's cancelled attempt cost upstream, charged with its answer."""
    return sum(a.cost or 0.0 for a in attempts if a.error_class == "HedgeCancelled")


def call_text(call: dict[str, Any]) -> str:
    """A tool call's name and arguments: what its tokens were spent on."""
    fn = call.get("function") or {}
    return str(fn.get("name") or "") + str(fn.get("arguments") or "")


def collect(chunk: Chunk, text: list[str]) -> None:
    d = chunk.delta
    if d is None:
        return
    if d.content:
        text.append(d.content)
    if d.reasoning_content:
        text.append(d.reasoning_content)
    text.extend(call_text(call) for call in d.tool_calls or ())


def response_text(resp: ChatResponse) -> str:
    parts: list[str] = []
    for choice in resp.choices:
        m = choice.message
        if isinstance(m.content, str):
            parts.append(m.content)
        parts.extend(call_text(call) for call in m.tool_calls or ())
    return "".join(parts)


def record(request: ChatRequest, ctx: RequestContext, status: str, **fields: Any) -> LedgerRecord:
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
        plugins=ctx.plugins,
        **fields,
    )


def ok_record(
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
    return record(
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


def error_record(
    request: ChatRequest,
    ctx: RequestContext,
    attempts: list[Attempt],
    exc: TokenportError,
    stream: bool,
) -> LedgerRecord:
    return record(
        request,
        ctx,
        "error",
        latency_ms=ctx.elapsed_ms(),
        error_class=type(exc).__name__,
        error_code=exc.code,
        stream=stream,
        http_status=exc.status,
        attempts=attempts,
        provider=attempts[-1].provider if attempts else None,
    )
