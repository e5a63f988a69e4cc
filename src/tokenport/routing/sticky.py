"""Sticky routing for prompt caching: a conversation stays where its prefix is cached.

Upstreams cache a prompt's prefix (explicitly, Anthropic's `cache_control`, or implicitly,
DeepSeek, Kimi, OpenAI...) and bill the cached tokens at a discount, but only at the route
that saw the prefix. When several routes serve a model and their order moves between turns
(`sort: "latency"`, a breaker, a fallback), each move throws the cache away. So the route
that served a conversation is remembered, keyed by the API key and a hash of the
conversation's cacheable head (its tools, system/developer turns and first other turn,
which every later turn repeats), and tried first on the next turn, for `sticky_ttl_s`
after its last use.

Only routes whose cache-read price is below their prompt price are remembered or moved;
`provider.order` (the client's own order) turns it off; a one-route model or a pinned route
whose breaker is open is left alone. Nothing here runs unless a request has several
routes and one of them is discounted. Reading a pin renews its TTL (Redis `GETEX`), and a
pin is written only when a conversation is served by another route than its pin's: one
Redis round trip per request in the common case. With Redis every replica shares the pins.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from tokenport.values import JSON, ChatRequest, Message, Route

log = logging.getLogger(__name__)


class StickyStore(Protocol):
    async def get(self, key: str, ttl_s: float) -> str | None:
        """The pin, its TTL renewed (one round trip: the pin is usually followed)."""
        ...

    async def put(self, key: str, model_id: str, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class MemorySticky:
    """One process's pins, least recently used dropped beyond `max_entries`."""

    max_entries: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _items: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)

    async def get(self, key: str, ttl_s: float) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        now = self.clock()
        if item[1] <= now:
            del self._items[key]
            return None
        self._items[key] = (item[0], now + ttl_s)
        self._items.move_to_end(key)
        return item[0]

    async def put(self, key: str, model_id: str, ttl_s: float) -> None:
        self._items[key] = (model_id, self.clock() + ttl_s)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        self._items.clear()


class RedisSticky:
    """Pins shared by every replica. Best effort: a Redis error routes as if unpinned."""

    def __init__(self, url: str, prefix: str = "tokenport:sticky:") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix

    async def get(self, key: str, ttl_s: float) -> str | None:
        from redis.exceptions import RedisError

        try:
            value = await self.redis.getex(self.prefix + key, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            log.warning("sticky routing: Redis read failed: %s", exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, key: str, model_id: str, ttl_s: float) -> None:
        from redis.exceptions import RedisError

        try:
            await self.redis.set(self.prefix + key, model_id, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            log.warning("sticky routing: Redis write failed: %s", exc)

    async def aclose(self) -> None:
        await self.redis.aclose()


def discounted(route: Route) -> bool:
    """Whether a cache hit at this route is cheaper than a miss."""
    read = route.pricing.cache_read
    return read is not None and read < route.pricing.input


def _head(messages: list[Message]) -> list[Message]:
    """The leading system/developer turns and the first other one: the part of a
    conversation that every later turn sends again unchanged."""
    for i, m in enumerate(messages):
        if m.role not in ("system", "developer"):
            return messages[: i + 1]
    return messages


_EDGE = 256  # characters sampled from each end of a long head turn


def _sample(content: str | list[JSON] | None) -> str:
    text = content if isinstance(content, str) else msgspec.json.encode(content).decode()
    if len(text) <= 2 * _EDGE:
        return text
    return f"{len(text)}:{text[:_EDGE]}{text[-_EDGE:]}"


def conversation_key(request: ChatRequest, key_id: str | None) -> str:
    """The key and a fixed-size sample of the conversation's head: its tools' names, and
    each head turn's role, length and first and last characters. Hashing a whole agent
    prompt (tens of KB of instructions and tool schemas) would cost more than routing
    does; conversations that differ only inside a long turn's middle share a pin, which
    is harmless (it is a hint about where a cache may be)."""
    names = [str(t.get("function", {}).get("name", "")) for t in request.tools or ()]
    parts = [key_id or "", ",".join(names)]
    for m in _head(request.messages):
        parts += [m.role, _sample(m.content)]
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Pin:
    """One request's place in sticky routing; `served` remembers where it was answered."""

    sticky: Sticky
    key: str
    held: str | None  # the route it was pinned to, if any

    async def served(self, route: Route) -> None:
        # Reading the pin renewed it; only a new route is written.
        if route.model_id != self.held and discounted(route):
            await self.sticky.store.put(self.key, route.model_id, self.sticky.ttl_s)


@dataclass
class Sticky:
    store: StickyStore
    ttl_s: float = 300.0

    def applies(self, request: ChatRequest, routes: list[Route]) -> bool:
        prefs = request.provider
        if prefs is not None and prefs.order:
            return False  # the client's own order wins
        return len(routes) > 1 and any(discounted(r) for r in routes)

    async def pin(
        self,
        request: ChatRequest,
        key_id: str | None,
        routes: list[Route],
        up: Callable[[str], bool],
    ) -> Pin | None:
        """Move the conversation's remembered route to the front of `routes` (in place),
        when it is still a candidate, discounted and its provider `up`."""
        if not self.applies(request, routes):
            return None
        key = conversation_key(request, key_id)
        held = await self.store.get(key, self.ttl_s)
        if held is not None:
            for i, r in enumerate(routes):
                if r.model_id == held:
                    if i and discounted(r) and up(r.provider):
                        routes.insert(0, routes.pop(i))
                    break
        return Pin(self, key, held)
