"""What retries and stream resume cost a request when nothing fails, in process.

    PYTHONPATH=src python bench/retry_overhead.py                 # this tree
    PYTHONPATH=/tmp/base/src python bench/retry_overhead.py       # a tree before them

The gateway core (`Gateway.complete`, and `open_stream` + `relay` of a 20-chunk stream)
against an in-process provider that answers at once, with a ledger that drops its records:
what is left is the gateway's own CPU per request, the fallback loop and the relay included.
Rounds alternate plain and streamed requests; the figures are the median and the minimum
over rounds of CPU seconds (process time) per request (on a shared machine the minimum is
the steadier: other processes only ever add to it). Compare two trees' figures on the same
machine, in the same minute: a run is ~10 s. (The budget here: the no-failure overhead of issue 25's
retries and resume must stay within 2% of the CPU per request.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from tokenport.gateway import Gateway, RequestContext
from tokenport.routing.health import Health
from tokenport.tokens import TokenCounter
from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Choice,
    Chunk,
    Delta,
    Message,
    Pricing,
    ProviderSpec,
    Route,
    Usage,
)

USAGE = Usage(prompt_tokens=10, completion_tokens=20)
ROUTE = Route("p", "m", "p/m", Pricing(input=1.0, output=2.0))
CHUNKS = [Chunk(delta=Delta(content=f"w{i} ")) for i in range(20)]
TAIL = [Chunk(finish_reason="stop"), Chunk(usage=USAGE)]


class Instant:
    spec = ProviderSpec(name="p", base_url="http://p")

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        message = Message(role="assistant", content="hello there")
        return ChatResponse("x", "m", 0, [Choice(0, message, "stop")], USAGE)

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        for c in CHUNKS:
            yield c
        for c in TAIL:
            yield c

    async def embed(self, *a: Any) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class Drop:
    async def append(self, record: Any) -> None:
        return None

    async def get(self, record_id: str) -> Any:
        return None


async def run(gw: Gateway, n: int, stream: bool) -> float:
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")], stream=stream)
    t0 = time.process_time()
    for i in range(n):
        ctx = RequestContext(f"g{i}")
        if stream:
            opened = await gw.open_stream(request, ctx, [ROUTE])
            async for _ in gw.relay(opened, lambda c: b"x", lambda e: b"end"):
                pass
        else:
            await gw.complete(request, ctx, [ROUTE])
    return (time.process_time() - t0) / n


async def main(rounds: int, n: int) -> None:
    gw = Gateway(
        providers={"p": Instant()},
        health=Health(5, 30.0),
        ledger=Drop(),
        counter=TokenCounter(gguf=None),
    )
    await run(gw, n, False)  # warm up
    await run(gw, n, True)
    plain, streamed = [], []
    for _ in range(rounds):
        plain.append(await run(gw, n, False))
        streamed.append(await run(gw, n, True))
    print(
        f"plain {statistics.median(plain) * 1e6:.1f} us/request (min {min(plain) * 1e6:.1f}), "
        f"stream (20 chunks) {statistics.median(streamed) * 1e6:.1f} us/request "
        f"(min {min(streamed) * 1e6:.1f}); median and min of {rounds} rounds of {n}"
    )


def parts(n: int = 200_000) -> None:
    """The operations retries and resume add to a request that does not fail, timed alone:
    steadier than the A/B above on a busy machine, and an upper bound on what they add."""
    import timeit

    from tokenport.gateway.retry import RetryBudget, RetryPolicy
    from tokenport.values import Attempt

    budget = RetryBudget()
    policy = RetryPolicy()
    spec = Instant.spec
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")])
    sent: list[Chunk] = []
    chunk = CHUNKS[0]
    attempts = [Attempt("p", "m", "ok", 1.0)]
    kind = reason = None

    def per_request() -> None:
        budget.requests += 1  # what earns the retry budget its tokens
        ok = Attempt("p", "m", "ok", 1.0)
        if kind is not None:  # the two new fields, set only after a failure
            ok.kind, ok.reason = kind, reason
        _ = spec.continuation is not None  # a continuation to mark? (upstream body)
        _ = request.provider is not None or policy.hedge_models  # a hedge asked for?
        _ = len(attempts) > 1  # price every attempt of a retried request

    def old_attempt() -> None:
        Attempt("p", "m", "ok", 1.0)

    def per_chunk() -> None:
        sent.append(chunk)  # the relay keeps what was sent: a resume's prefix

    def nothing() -> None:
        return None

    def best(fn: Any) -> float:
        return min(timeit.repeat(fn, number=n, repeat=5)) / n

    call, req, base, each = best(nothing), best(per_request), best(old_attempt), best(per_chunk)
    print(
        f"added per request {(req - base) * 1e9:.0f} ns, per streamed chunk "
        f"{(each - call) * 1e9:.0f} ns (a bare function call here: {call * 1e9:.0f} ns)"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--parts", action="store_true", help="time the added operations alone")
    args = p.parse_args()
    if args.parts:
        parts()
    else:
        asyncio.run(main(args.rounds, args.n))
