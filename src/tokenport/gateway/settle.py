"""Settling a request: the one way its answer (or its failure) is recorded and charged.

usage (counted when the upstream gave none) -> cost at the serving route's price (plus what
a cascade's earlier calls spent) -> route health -> one ledger record made durable (with
energy for a self-hosted deployment) -> the reservation settled to the actual cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from tokenport.cache.cache import CachedAnswer, ResponseCache
from tokenport.errors import TokenportError
from tokenport.gateway.context import (
    ClientDisconnected,
    LedgerSink,
    Prior,
    RequestContext,
    ShuttingDown,
)
from tokenport.gateway.records import error_record, hedging_cost, ok_record, price_answer
from tokenport.ledger.record import LedgerRecord
from tokenport.pricing import cost_usd
from tokenport.providers.deployments import EnergyRate
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import Attempt, ChatRequest, Route, Usage


@dataclass
class Settler:
    health: Health
    ledger: LedgerSink
    counter: TokenCounter
    energy: Mapping[str, EnergyRate]
    cache: ResponseCache | None

    async def settle(
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
                usage = await self.estimate(request, completion)
            cost = cost_usd(usage, route.pricing)
        answer_tokens = usage.completion_tokens
        if prior is not None or len(attempts) > 1:
            price_answer(attempts, cost)
            cost += hedging_cost(attempts)
        if prior is not None:
            cost += prior.cost
            usage = msgspec.structs.replace(
                usage,
                prompt_tokens=usage.prompt_tokens + prior.prompt_tokens,
                completion_tokens=usage.completion_tokens + prior.completion_tokens,
            )
        record = ok_record(
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
        if ctx.pin is not None and error is None and hit is None:
            await ctx.pin.served(route)
        await self.append(ctx, self.metered(record))
        await ctx.done(cost, usage.total_tokens)
        return usage, cost

    async def failed(
        self,
        request: ChatRequest,
        ctx: RequestContext,
        attempts: list[Attempt],
        exc: TokenportError,
        *,
        stream: bool,
        prior: Prior | None = None,
    ) -> None:
        record = error_record(request, ctx, attempts, exc, stream=stream)
        spent = prior or Prior()
        record.cost = spent.cost
        record.prompt_tokens = spent.prompt_tokens
        record.completion_tokens = spent.completion_tokens
        await self.append(ctx, record)
        await ctx.done(spent.cost, spent.prompt_tokens + spent.completion_tokens)

    async def append(self, ctx: RequestContext, record: LedgerRecord) -> None:
        await self.ledger.append(record)
        ctx.watch.recorded(record, ctx.cache_status)

    def metered(self, record: LedgerRecord) -> LedgerRecord:
        """Add energy and region for requests a self-hosted deployment served."""
        rate = self.energy.get(record.provider or "")
        if rate is not None:
            record.energy_wh, record.energy_cost = rate.of(
                record.prompt_tokens, record.completion_tokens
            )
            record.region = rate.region
        return record

    async def estimate(self, request: ChatRequest, completion: str) -> Usage:
        prompt = await asyncio.to_thread(self.counter.count_messages, request.messages)
        out = await asyncio.to_thread(self.counter.count, completion)
        return Usage(prompt_tokens=prompt, completion_tokens=out, estimated=True)
