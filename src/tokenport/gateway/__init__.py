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

After a failure (docs/resilience.md): `retry.py` picks the next attempt within the retry
budget; `resume.py` continues a stream cut mid-answer; `hedge.py` races a slow first
attempt (opt-in).
"""

from tokenport.gateway.context import (
    CUT,
    ClientDisconnected,
    Embedded,
    LedgerSink,
    OpenStream,
    Prior,
    RequestContext,
    Served,
    ShuttingDown,
    StreamEnd,
    is_cut,
    shutting_down,
)
from tokenport.gateway.core import Gateway

__all__ = [
    "CUT",
    "ClientDisconnected",
    "Embedded",
    "Gateway",
    "LedgerSink",
    "OpenStream",
    "Prior",
    "RequestContext",
    "Served",
    "ShuttingDown",
    "StreamEnd",
    "is_cut",
    "shutting_down",
]
