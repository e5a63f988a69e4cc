"""The values a request carries through the gateway, and how it can end early.

`RequestContext` is one request's own state (who, when, its reservation, its record's
extras); `Served`, `Embedded`, `OpenStream` and `StreamEnd` are the gateway's answers to the
edge; `Prior` is what a cascade's earlier calls spent; `ClientDisconnected` and
`ShuttingDown` are the two ways a request ends before its answer is whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from tokenport.cache.cache import Ticket
from tokenport.cache.policy import CacheAsk
from tokenport.errors import ServiceUnavailable, TokenportError
from tokenport.ledger.record import KeyHold, LedgerRecord
from tokenport.ledger.signals import RequestSignals
from tokenport.routing.sticky import Pin
from tokenport.telemetry.watch import NULL_WATCH, Watch
from tokenport.values import (
    Attempt,
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingResponse,
    PluginUse,
    Route,
    Usage,
)

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
    # Sticky routing (routing/sticky.py): told at settlement which route answered.
    pin: Pin | None = None
    # The request's plugins (`tokenport.plugins`): what they did, for the answer and its
    # record, and the hook that sees a non-streamed answer before it is settled.
    plugins: list[PluginUse] | None = None
    on_answer: Callable[[ChatRequest, ChatResponse], None] | None = None

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
    # The request's candidate routes: where a stream cut mid-answer may resume.
    routes: list[Route] | None = None
    cut_tokens: int = 0  # answer tokens sent by attempts cut mid-stream (and resumed)


@dataclass(slots=True)
class StreamEnd:
    """What the API edge needs to close a stream: usage and cost, or the error."""

    usage: Usage
    cost: float
    error: TokenportError | None = None


class ClientDisconnected(TokenportError):
    """The client went away before its answer was whole (recorded as HTTP 499)."""

    status = 499
    code = "client_disconnected"


class ShuttingDown(ServiceUnavailable):
    """A draining process cut the request after its grace period (`api/drain.py`)."""

    code = "shutting_down"


def cut_short() -> ShuttingDown:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # the cut is handled here: the request ends with an answer
    return ShuttingDown(
        "The gateway is shutting down and cut this request before its answer was complete. "
        "Retry it: another gateway will serve it."
    )


def shutting_down() -> ShuttingDown:
    """What a request cut by a draining process ends with (a cascade's too)."""
    return cut_short()
