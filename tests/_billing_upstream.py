"""An OpenAI-compatible upstream that bills like a real one, for the money tests.

`lab/fake.py` counts only the words of the messages and answers one choice, which is
enough to test the wire but not what a request costs. This one bills what real upstreams
bill (and what tokenport's reservation must cover):
- the prompt: message text, the `tools` schemas and a `response_format` schema, at
  `BYTES_PER_TOKEN` bytes a token (BPE on English runs about 4), plus `IMAGE_TOKENS` for each
  image part (GPT-4o bills up to 1,445 for one image at high detail), 4 tokens a message;
- the output: `n` choices, each using the whole output cap (`max_tokens`, or the model's
  maximum `max_output` without one): the worst case a client can be billed.
`overbill` multiplies the reported usage, for an upstream that bills more than anyone could
have predicted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

from aiohttp import web

BYTES_PER_TOKEN = 4
IMAGE_TOKENS = 1_445


class BillingUpstream:
    def __init__(self, *, max_output: int = 1_000, latency_s: float = 0.0) -> None:
        self.max_output = max_output
        self.latency_s = latency_s
        self.overbill = 1.0
        self.bodies: list[dict[str, Any]] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        nbytes, images = 0, 0
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, str):
                nbytes += len(content.encode())
            for part in content if isinstance(content, list) else []:
                if part.get("type") == "image_url":
                    images += 1
                else:
                    nbytes += len(str(part.get("text", "")).encode())
        for extra in ("tools", "response_format"):
            if body.get(extra):
                nbytes += len(json.dumps(body[extra]).encode())
        return nbytes // BYTES_PER_TOKEN + 4 * len(body.get("messages", [])) + images * IMAGE_TOKENS

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.bodies.append(body)
        await asyncio.sleep(self.latency_s)
        n = int(body.get("n") or 1)
        cap = body.get("max_completion_tokens") or body.get("max_tokens") or self.max_output
        out = min(int(cap), self.max_output)
        text = " ".join(["tok"] * out)
        usage = {
            "prompt_tokens": int(self.prompt_tokens(body) * self.overbill),
            "completion_tokens": int(n * out * self.overbill),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return web.json_response(
            {
                "id": "chatcmpl-billing",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake-model"),
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "length",
                    }
                    for i in range(n)
                ],
                "usage": usage,
            }
        )

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    def start(self) -> BillingUpstream:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


# Request parts that cost more than their text: for the money tests.


def big_tools(words: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "word " * words,
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]


def image_message(nbytes: int) -> dict[str, Any]:
    data = base64.b64encode(b"\x89PNG" + b"\0" * nbytes).decode()
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        ],
    }


def heavy_body() -> dict[str, Any]:
    """n, a tools schema and an image part: what the issue's concurrency test sends."""
    return {
        "messages": [image_message(1_000)],
        "n": 4,
        "tools": big_tools(300),
        "max_tokens": 50,
    }
