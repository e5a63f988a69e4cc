"""A fake OpenAI-shaped upstream that models prompt prefix caching honestly.

It reports `prompt_tokens_details.cached_tokens` only for the longest prefix of the prompt
(at message boundaries, tools included) that this same upstream processed before, within
`cache_ttl_s`, as DeepSeek's, Kimi's and OpenAI's implicit caches do. Another instance
knows nothing of it: a conversation that moves between upstreams starts cold again.

Tokens are words (whitespace-separated) of the message text, as in `lab.fake`. Each answer
takes `latency_ms`, plus a load swing of `drift_ms` (a sine over `drift_period_s`, from
`phase`), plus a uniform `jitter_ms` from a seeded generator: equal upstreams whose load
moves, so that a router sorting by measured latency sees their order change.

    fake = PrefixCacheUpstream.start_in_thread(latency_ms=20, jitter_ms=10, seed=1)
    ... fake.base_url + "/v1" ...; fake.hits, fake.prompt_tokens; fake.stop()
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import socket
import threading
import time
from collections import OrderedDict
from typing import Any

import orjson
from aiohttp import web


def _words(content: Any) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(_words(p.get("text", "")) for p in content if isinstance(p, dict))
    return 0


class PrefixCacheUpstream:
    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int = 0,
        cache_ttl_s: float = 300.0,
        min_cached_tokens: int = 0,
        reply_words: int = 20,
        drift_ms: float = 0.0,
        drift_period_s: float = 4.0,
        phase: float = 0.0,
    ) -> None:
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.drift_ms, self.drift_period_s, self.phase = drift_ms, drift_period_s, phase
        self._t0 = time.monotonic()
        self.cache_ttl_s, self.min_cached_tokens = cache_ttl_s, min_cached_tokens
        self.reply_words = reply_words
        self._rng = random.Random(seed)
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # prefix hash -> expiry
        self.requests = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cached_prefix(self, tools: Any, messages: list[dict[str, Any]]) -> tuple[int, int]:
        """(prompt tokens, tokens of the longest prefix seen before); remembers every prefix."""
        now = time.monotonic()
        h = hashlib.blake2b(orjson.dumps(tools), digest_size=16)
        total = cached = 0
        for m in messages:
            h.update(orjson.dumps(m))
            total += _words(m.get("content"))
            key = h.copy().digest()
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now and total >= self.min_cached_tokens:
                cached = total
            self._seen[key] = now + self.cache_ttl_s
            self._seen.move_to_end(key)
        while len(self._seen) > 100_000:
            self._seen.popitem(last=False)
        return total, cached

    async def _chat(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        prompt, cached = self.cached_prefix(body.get("tools"), body.get("messages", []))
        self.requests += 1
        self.prompt_tokens += prompt
        self.cached_tokens += cached
        swing = math.sin(
            self.phase + 2 * math.pi * (time.monotonic() - self._t0) / self.drift_period_s
        )
        wait = self.latency_ms + self.drift_ms * swing + self._rng.uniform(0, self.jitter_ms)
        if wait > 0:
            await asyncio.sleep(wait / 1000)
        text = " ".join(f"step{self.requests}" for _ in range(self.reply_words))
        answer = {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": self.reply_words,
                "total_tokens": prompt + self.reply_words,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    @classmethod
    def start_in_thread(cls, **kwargs: Any) -> PrefixCacheUpstream:
        fake = cls(**kwargs)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            fake._loop = loop
            loop.run_until_complete(fake._start())
            ready.set()
            loop.run_forever()
            loop.close()

        fake._thread = threading.Thread(target=run, name="prefix-fake", daemon=True)
        fake._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the prefix-cache fake did not start within 10 s")
        return fake

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None
