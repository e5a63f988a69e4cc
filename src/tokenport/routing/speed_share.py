"""Route speed shared across replicas through Redis.

Every `interval_s` each replica pushes the samples it recorded since its last push onto
one capped Redis list per route and figure (newest first, trimmed to the window), then
reads every route's lists back into its `SpeedBook`: each replica then sorts on the same
figures, measured from all of their traffic. Two round trips per interval, off the request
path; a Redis error leaves each replica on its own figures until Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tokenport.routing.speed import SpeedBook

log = logging.getLogger(__name__)
_KEEP_S = 86400  # a route not served for a day drops out of the shared figures


class SpeedShare:
    def __init__(
        self, url: str, book: SpeedBook, interval_s: float = 2.0, prefix: str = "tokenport:speed:"
    ) -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.book = book
        self.interval_s = interval_s
        self.prefix = prefix
        self._task: asyncio.Task[None] | None = None

    def _key(self, route: str, figure: str) -> str:
        return f"{self.prefix}{figure}:{route}"

    async def sync(self) -> None:
        """Push this replica's new samples, then read every replica's back."""
        window = self.book.window
        pending = self.book.take_pending()
        pipe = self.redis.pipeline(transaction=False)
        for route, (ttfts, tps) in pending.items():
            for figure, values in (("ttft", ttfts), ("tps", tps)):
                if values:
                    key = self._key(route, figure)
                    pipe.lpush(key, *values)
                    pipe.ltrim(key, 0, window - 1)
                    pipe.expire(key, _KEEP_S)
            pipe.zadd(self.prefix + "routes", {route: 0})
        pipe.zrange(self.prefix + "routes", 0, -1)
        routes = [r.decode() for r in (await pipe.execute())[-1]]
        if not routes:
            return
        pipe = self.redis.pipeline(transaction=False)
        for route in routes:
            pipe.lrange(self._key(route, "ttft"), 0, window - 1)
            pipe.lrange(self._key(route, "tps"), 0, window - 1)
        lists = await pipe.execute()
        for i, route in enumerate(routes):
            ttfts = [float(v) for v in lists[2 * i]]
            tps = [float(v) for v in lists[2 * i + 1]]
            self.book.set_shared(route, ttfts, tps)

    async def _run(self) -> None:
        from redis.exceptions import RedisError

        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sync()
            except (RedisError, OSError) as exc:
                log.warning("route speed: Redis sync failed: %s", exc)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.redis.aclose()
