"""Sticky routing for prompt caching: the pin, its TTL, and what turns it off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tokenport.routing.sticky import MemorySticky, Pin, Sticky, conversation_key, discounted
from tokenport.values import ChatRequest, Message, Pricing, ProviderPrefs, Route

CACHED = Pricing(1.0, 2.0, cache_read=0.1)
ROUTES = [
    Route("a", "m", "a/m", CACHED),
    Route("b", "m", "b/m", CACHED),
    Route("c", "m", "c/m", Pricing(1.0, 2.0)),  # no cache discount
]


def _turns(n: int, prefs: ProviderPrefs | None = None) -> ChatRequest:
    """Turn n of one conversation: the same system prompt and first question, then more."""
    msgs = [Message(role="system", content="you are terse"), Message(role="user", content="q1")]
    for i in range(1, n):
        msgs += [
            Message(role="assistant", content=f"a{i}"),
            Message(role="user", content=f"q{i + 1}"),
        ]
    return ChatRequest(model="m", messages=msgs, provider=prefs)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _up(provider: str) -> bool:
    return True


def test_conversation_key_is_the_same_every_turn_and_per_key() -> None:
    assert conversation_key(_turns(1), "k1") == conversation_key(_turns(5), "k1")
    assert conversation_key(_turns(3), "k1") != conversation_key(_turns(3), "k2")
    other = ChatRequest(model="m", messages=[Message(role="user", content="another task")])
    assert conversation_key(other, "k1") != conversation_key(_turns(1), "k1")
    tools = [{"type": "function", "function": {"name": "f"}}]
    with_tools = ChatRequest(model="m", messages=_turns(1).messages, tools=tools)
    assert conversation_key(with_tools, "k1") != conversation_key(_turns(1), "k1")


def test_discount() -> None:
    assert discounted(ROUTES[0]) and not discounted(ROUTES[2])
    assert not discounted(Route("x", "m", "x/m", Pricing(1.0, 2.0, cache_read=1.0)))


def _order(
    sticky: Sticky, request: ChatRequest, up: Callable[[str], bool] = _up
) -> tuple[list[str], Pin | None]:
    routes = list(ROUTES)
    pin = asyncio.run(sticky.pin(request, "k", routes, up))
    return [r.provider for r in routes], pin


def test_a_conversation_stays_on_the_route_that_served_it_until_the_ttl() -> None:
    clock = Clock()
    sticky = Sticky(MemorySticky(clock=clock), ttl_s=60)
    order, pin = _order(sticky, _turns(1))
    assert order == ["a", "b", "c"] and pin is not None
    asyncio.run(pin.served(ROUTES[1]))  # "a" failed over to "b", which now holds the cache
    order, pin = _order(sticky, _turns(2))
    assert order == ["b", "a", "c"]
    assert pin is not None
    asyncio.run(pin.served(ROUTES[1]))  # served where pinned: nothing to write
    clock.now += 59  # each turn's read renews the TTL
    assert _order(sticky, _turns(3))[0] == ["b", "a", "c"]
    clock.now += 59
    assert _order(sticky, _turns(4))[0] == ["b", "a", "c"]
    clock.now += 61
    assert _order(sticky, _turns(5))[0] == ["a", "b", "c"]  # expired: plain order again


def test_provider_order_turns_it_off() -> None:
    sticky = Sticky(MemorySticky(), ttl_s=60)
    _, pin = _order(sticky, _turns(1))
    assert pin is not None
    asyncio.run(pin.served(ROUTES[1]))
    order, pin = _order(sticky, _turns(2, ProviderPrefs(order=["a"])))
    assert order == ["a", "b", "c"] and pin is None


def test_only_discounted_routes_are_pinned_and_a_down_route_is_not_forced() -> None:
    store = MemorySticky()
    sticky = Sticky(store, ttl_s=60)
    _, pin = _order(sticky, _turns(1))
    assert pin is not None
    asyncio.run(pin.served(ROUTES[2]))  # "c" has no cache price
    assert _order(sticky, _turns(2))[0] == ["a", "b", "c"]
    asyncio.run(pin.served(ROUTES[1]))
    order, _ = _order(sticky, _turns(2), up=lambda p: p != "b")  # b's breaker is open
    assert order == ["a", "b", "c"]


def test_nothing_runs_for_one_route_or_no_discount() -> None:
    sticky = Sticky(MemorySticky(), ttl_s=60)
    one = [ROUTES[0]]
    assert asyncio.run(sticky.pin(_turns(1), "k", one, _up)) is None
    plain = [ROUTES[2], Route("d", "m", "d/m", Pricing(1.0, 2.0))]
    assert asyncio.run(sticky.pin(_turns(1), "k", plain, _up)) is None


def test_memory_store_is_bounded() -> None:
    store = MemorySticky(max_entries=2)

    async def go() -> list[str | None]:
        for k in ("x", "y", "z"):
            await store.put(k, k, 60)
        return [await store.get(k, 60) for k in ("x", "y", "z")]

    assert asyncio.run(go()) == [None, "y", "z"]
