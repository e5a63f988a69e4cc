"""Route speed and sticky pins shared across replicas through a real Redis."""

from __future__ import annotations

import asyncio

from tokenport.routing.speed import SpeedBook
from tokenport.routing.speed_share import SpeedShare
from tokenport.routing.sticky import RedisSticky


def test_each_replica_sorts_on_every_replicas_samples(redis_url: str) -> None:
    async def go() -> None:
        one, two = SpeedBook(window=8, sharing=True), SpeedBook(window=8, sharing=True)
        share1, share2 = SpeedShare(redis_url, one), SpeedShare(redis_url, two)
        try:
            for _ in range(4):
                one.record("p/m", 100.0, 50.0)
            for _ in range(4):
                two.record("p/m", 300.0, 10.0)
            two.record("q/m", 40.0, None)  # a route only replica two has served
            await share1.sync()
            await share2.sync()
            await share1.sync()  # replica one reads what two pushed after its first sync
            for book in (one, two):
                s = book.speed("p/m")
                assert s is not None and s.samples == 8
                assert s.ttft_ms is not None and (s.ttft_ms.p50, s.ttft_ms.p99) == (100.0, 300.0)
                q = book.speed("q/m")
                assert q is not None and q.ttft_ms is not None and q.ttft_ms.p50 == 40.0
            # The shared window is capped at the window: the oldest samples drop.
            for _ in range(8):
                one.record("p/m", 7.0, 70.0)
            await share1.sync()
            s = one.speed("p/m")
            assert s is not None and s.ttft_ms is not None and s.ttft_ms.p99 == 7.0
        finally:
            await share1.aclose()
            await share2.aclose()

    asyncio.run(go())


def test_the_background_task_syncs_on_its_own(redis_url: str) -> None:
    async def go() -> None:
        one, two = SpeedBook(sharing=True), SpeedBook(sharing=True)
        share1 = SpeedShare(redis_url, one, interval_s=0.05)
        share2 = SpeedShare(redis_url, two, interval_s=0.05)
        share1.start()
        share2.start()
        try:
            one.record("p/m", 123.0, 45.0)
            for _ in range(100):
                if two.speed("p/m") is not None:
                    break
                await asyncio.sleep(0.05)
            s = two.speed("p/m")
            assert s is not None and s.ttft_ms is not None and s.ttft_ms.p50 == 123.0
        finally:
            await share1.aclose()
            await share2.aclose()

    asyncio.run(go())


def test_a_pin_made_on_one_replica_holds_on_another_until_its_ttl(redis_url: str) -> None:
    async def go() -> None:
        one, two = RedisSticky(redis_url), RedisSticky(redis_url)
        try:
            await one.put("conv", "b/m", 0.3)
            await asyncio.sleep(0.2)
            assert await two.get("conv", 0.3) == "b/m"  # the read renews the TTL
            await asyncio.sleep(0.2)
            assert await one.get("conv", 0.3) == "b/m"  # 0.4 s after the write: renewed
            await asyncio.sleep(0.45)
            assert await two.get("conv", 0.3) is None
        finally:
            await one.aclose()
            await two.aclose()

    asyncio.run(go())


def test_redis_down_routes_unpinned_rather_than_failing() -> None:
    async def go() -> None:
        gone = RedisSticky("redis://127.0.0.1:1/0")
        try:
            await gone.put("conv", "b/m", 10)
            assert await gone.get("conv", 10) is None
        finally:
            await gone.aclose()

    asyncio.run(go())


def test_redis_down_leaves_each_replica_on_its_own_figures() -> None:
    async def go() -> None:
        book = SpeedBook(sharing=True)
        share = SpeedShare("redis://127.0.0.1:1/0", book, interval_s=0.01)
        share.start()
        try:
            book.record("p/m", 42.0, 7.0)
            await asyncio.sleep(0.1)  # several failed syncs, logged, not raised
            s = book.speed("p/m")
            assert s is not None and s.ttft_ms is not None and s.ttft_ms.p50 == 42.0
        finally:
            await share.aclose()

    asyncio.run(go())
