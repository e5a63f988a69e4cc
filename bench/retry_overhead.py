"""What retries and stream resume cost a request when nothing fails, in process.

    PYTHONPATH=src python bench/retry_overhead.py                 # this tree
    PYTHONPATH=/tmp/base/src python bench/retry_overhead.py       # a tree before them

The gateway core (`Gateway.complete`, and `open_stream` + `relay` of a 20-chunk stream)
against an in-process provider that answers at once, with a ledger that drops its records:
what is left is the gateway's own CPU per request, the fallback loop and the relay included.
Rounds alternate plain and streamed requests; the figure is the median over rounds of CPU
seconds (process time) per request. Compare two trees' figures on the same machine, in
the same minute: a run is ~10 s. (The budget here: the no-failure overhead of issue 25's
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
        f"plain {statistics.median(plain) * 1e6:.1f} us/request, "
        f"stream (20 chunks) {statistics.median(streamed) * 1e6:.1f} us/request "
        f"(median of {rounds} rounds of {n})"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--n", type=int, default=2000)
    args = p.parse_args()
    asyncio.run(main(args.rounds, args.n))
