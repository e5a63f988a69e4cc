"""Refused requests in the ledger: who was refused, and why.

A request the gateway answers with an error before any upstream call (a bad or missing
key, a limit, no credit, an abuse action, an unknown model, a bad body, a provider that is
not configured, a rate-limit store that is down) never reaches `gateway/`, which records
everything it tries. The edge's one error boundary (`api/edge.py`, `guarded`) hands each
such error here, after the answer has left:

    note(door, scope, headers, exc, model) -> LedgerRecord(status="refused", request_count=1)
                                           -> ledger.note(record): journaled, not awaited

The record carries the HTTP status, the error's code, the key (from the admission layer's
cache: no database read), the door, the model asked for (when the body was parsed) and the
client's /24 or /48 prefix. It costs nothing and counts as a request and an error in the
rollups, so rankings' error figures and the dashboard see it.

A flood of refusals (say, unauthenticated requests from a botnet) must not fill the disk:
past `refusal_records_per_s` a second on average (bursts of one second's worth), refusals
are aggregated, not dropped. Each second's surplus becomes one record per (door, status,
code, key, prefix), its `request_count` saying how many requests it stands for; the model
asked for is not kept for those. Beyond `_MAX_GROUPS` distinct groups in one second the
prefix is folded too (`"*"`), so the number of records a second stays bounded whatever
the attacker varies. `stats()` counts what was written, folded and lost (journal down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec
from ulid import ULID

from tokenport.errors import ClientError, ModelNotFound, ServiceUnavailable, TokenportError
from tokenport.ledger.record import LedgerRecord
from tokenport.security.clientip import client_ip, ip_prefix, trusted_proxies
from tokenport.values import Door

log = logging.getLogger("tokenport.api")

_MAX_GROUPS = 256  # distinct aggregated groups per second before prefixes are folded too
_FOLD_WINDOW_S = 1.0

# (door, http status, code, key id, client prefix)
Group = tuple[str, int, str, str | None, str]


class RefusalSink(Protocol):
    def note(self, record: LedgerRecord) -> None: ...


class RefusalStats(msgspec.Struct):
    written: int = 0  # records of one refusal each
    folded: int = 0  # refusals counted in aggregate records (their model asked is not kept)
    aggregates: int = 0  # aggregate records written
    lost: int = 0  # refusals whose record could not be journaled (journal closed or broken)


def is_refusal(exc: TokenportError) -> bool:
    """Errors raised before the gateway tried an upstream. The gateway records its own
    failures (upstream errors, every route failed, a drain's cut), never a ClientError."""
    if isinstance(exc, ClientError):
        return True
    return isinstance(exc, ServiceUnavailable) and exc.code == "service_unavailable"


def presented_token(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return headers.get("x-api-key")


class RefusalLog:
    """Turns refusals into ledger records, within a rate (see the module's docstring)."""

    def __init__(
        self,
        sink: RefusalSink,
        key_id_of: Callable[[str], str | None],
        trusted: Sequence[str],
        per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.key_id_of = key_id_of
        self.trusted = trusted_proxies(trusted)
        self.per_s = per_s
        self.burst = max(1.0, per_s)
        self.clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._groups: dict[Group, int] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self._stats = RefusalStats()

    def note(
        self,
        door: Door,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        exc: TokenportError,
        model: str | None,
    ) -> None:
        """Record one refusal (never raises: the client already has its answer)."""
        if not is_refusal(exc):
            return
        token = presented_token(headers)
        key_id = self.key_id_of(token) if token else None
        prefix = self._prefix(scope, headers)
        if self._take():
            if model is None and isinstance(exc, ModelNotFound):
                model = exc.model
            self._write(
                self._record(door, exc.status, exc.code, key_id, prefix, model or "", 1),
                written=1,
            )
            return
        self._fold((door, exc.status, exc.code, key_id, prefix))

    def flush(self) -> None:
        """Write the aggregates gathered so far (every second, and at shutdown)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        groups, self._groups = self._groups, {}
        for (door, status, code, key_id, prefix), n in groups.items():
            record = self._record(door, status, code, key_id, prefix, "", n)
            self._write(record, folded=n)

    def _prefix(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
        if self.trusted:
            return ip_prefix(client_ip(scope, headers, self.trusted))
        # No proxy to believe: the peer is the client, and `ip_prefix` is cached per address
        # (parsing an address costs more than the rest of a folded refusal).
        client = scope.get("client")
        return ip_prefix(str(client[0])) if client else ""

    def stats(self) -> RefusalStats:
        return msgspec.structs.replace(self._stats)

    def _take(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_s)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _fold(self, group: Group) -> None:
        if group not in self._groups and len(self._groups) >= _MAX_GROUPS:
            group = (*group[:4], "*")
        self._groups[group] = self._groups.get(group, 0) + 1
        if self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(_FOLD_WINDOW_S, self.flush)

    def _record(
        self,
        door: str,
        status: int,
        code: str,
        key_id: str | None,
        prefix: str,
        model: str,
        count: int,
    ) -> LedgerRecord:
        return LedgerRecord(
            id=f"gen-{ULID()}",
            ts=time.time(),
            model_requested=model,
            status="refused",
            key_id=key_id,
            door=door,
            http_status=status,
            error_code=code,
            client_prefix=prefix or None,
            request_count=count,
        )

    def _write(self, record: LedgerRecord, *, written: int = 0, folded: int = 0) -> None:
        try:
            self.sink.note(record)
        except ServiceUnavailable as exc:
            self._stats.lost += record.request_count
            log.debug("refusal not recorded: %s", exc)
            return
        self._stats.written += written
        if folded:
            self._stats.folded += folded
            self._stats.aggregates += 1
