"""A fake OpenAI upstream whose answers depend on the request, as a real model's do: asked
to reason or to go into detail, it writes long reasoning and long answers (up to
`max_tokens`, then `finish_reason: length`); asked something everyday, it answers briefly;
offered tools, it calls one. Lengths are deterministic per prompt. Loopback only."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from typing import Any

import orjson
from aiohttp import web

_CUES = re.compile(
    r"\b(step|steps|reason\w*|work(ing)?|logic|thought|think\w*|derivation|derive|prove|"
    r"detail\w*|justify|inference|scratch|thorough\w*|rigorous\w*|exhaustive\w*|complete\w*)\b",
    re.IGNORECASE,
)


def _words(n: int) -> str:
    return " ".join(("token",) * max(1, n))


def _text(messages: list[dict[str, Any]]) -> str:
    return " ".join(str(m.get("content") or "") for m in messages)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The completion body for one request."""
    messages = body.get("messages") or []
    last = str(messages[-1].get("content") or "") if messages else ""
    seed = int.from_bytes(hashlib.blake2b(last.encode(), digest_size=4).digest(), "big")
    cues = len(_CUES.findall(last))
    want = 60 + seed % 240 + cues * (300 + seed % 500)
    thinking = cues * (200 + seed % 400) if (cues or body.get("reasoning_effort")) else 0
    cap = body.get("max_tokens") or body.get("max_completion_tokens")
    finish = "stop"
    if isinstance(cap, int) and want + thinking > cap:
        want, thinking, finish = (
            max(1, cap - min(thinking, cap // 2)),
            min(thinking, cap // 2),
            "length",
        )
    prompt = len(_text(messages).split())
    msg: dict[str, Any] = {"role": "assistant", "content": _words(want)}
    if thinking:
        msg["reasoning_content"] = _words(thinking)
    tools = body.get("tools")
    if tools and messages and messages[-1].get("role") != "tool":
        name = tools[0].get("function", {}).get("name", "tool")
        msg = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{seed}",
                    "type": "function",
                    "function": {"name": name, "arguments": "{}"},
                }
            ],
        }
        want, finish = 12, "tool_calls"
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": want + thinking,
        "total_tokens": prompt + want + thinking,
    }
    return {
        "id": f"chatcmpl-{seed}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "model"),
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": usage,
    }


async def _chat(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps(answer(body)), content_type="application/json")


class Upstream:
    """The responsive fake on its own loop and daemon thread."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()

    def start(self) -> Upstream:
        threading.Thread(target=self._run, name="redteam-upstream", daemon=True).start()
        if not self._ready.wait(30):
            raise RuntimeError("the red team's upstream did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", _chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
