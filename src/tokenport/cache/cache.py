"""`ResponseCache`: the gateway's one handle on the cache (see the package docstring).

What is never stored: an error, a stream that broke or was cut, and (unless asked) an
answer to a request with temperature > 0, which is one sample of many. A request without
a temperature counts as deterministic here: that is what asking for the cache says.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import msgspec

from tokenport.cache.key import cache_key
from tokenport.cache.policy import CacheAsk
from tokenport.cache.store import CacheStore
from tokenport.config import CacheConfig
from tokenport.values import ChatRequest, ChatResponse, Chunk, Usage

log = logging.getLogger("tokenport.cache")


class CachedAnswer(msgspec.Struct, omit_defaults=True):
    """An answer as the gateway first served it."""

    model_id: str
    provider: str  # the provider that served it then
    usage: Usage
    cost: float  # what it cost then: what a hit saves
    stored_at: float = 0.0
    finish: str | None = None
    response: ChatResponse | None = None  # a non-streamed answer
    chunks: list[Chunk] | None = None  # a streamed one, chunk by chunk (no usage chunk)


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(CachedAnswer).decode


@dataclass(slots=True)
class Ticket:
    """One request's dealings with the cache: its key, and what the lookup found."""

    key: str
    ask: CacheAsk
    storable: bool
    hit: CachedAnswer | None


class ResponseCache:
    def __init__(self, store: CacheStore, cfg: CacheConfig) -> None:
        self.store = store
        self.cfg = cfg

    async def check(self, request: ChatRequest, ask: CacheAsk, key_id: str | None) -> Ticket:
        key = cache_key(request, key_id, self.cfg.shared)
        raw = await self.store.get(key)
        hit = None
        if raw is not None:
            try:
                hit = _decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("unreadable cache entry ignored: %s", exc)
            if hit is not None and (hit.chunks if request.stream else hit.response) is None:
                hit = None
        return Ticket(key, ask, self.storable(request, ask), hit)

    def storable(self, request: ChatRequest, ask: CacheAsk) -> bool:
        t = request.temperature
        return t is None or t <= 0 or ask.sampled

    def charge(self, hit: CachedAnswer) -> float:
        """What a hit costs the key: nothing, unless the operator charges hits."""
        return hit.cost if self.cfg.charge_hits else 0.0

    async def keep(self, ticket: Ticket, answer: CachedAnswer) -> None:
        if not ticket.storable:
            return
        answer.stored_at = time.time()
        data = _encode(answer)
        if len(data) <= self.cfg.max_entry_bytes:
            await self.store.put(ticket.key, data, ticket.ask.ttl_s)

    async def aclose(self) -> None:
        await self.store.aclose()
