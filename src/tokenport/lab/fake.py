"""Fake upstreams on loopback, for tests, the benchmark and `tokenport simulate`.

One `FakeUpstream` speaks every wire protocol a provider adapter talks to:

    POST /v1/chat/completions   OpenAI (stream and non-stream, `stream_options.include_usage`)
    POST /v1/messages           Anthropic Messages (stream with the real event sequence)
    POST /v1beta/models/{model}:generateContent, :streamGenerateContent   Gemini
    POST /v1/embeddings         OpenAI embeddings (deterministic vectors)
    GET  /v1/models, /health

What it answers is a `Script`: a default one, plus a queue of one-shot scripts that the
next requests consume in order (`push`). Every request is recorded (`requests`) so tests
can assert on exactly what the gateway sent.

    async with FakeUpstream(Script(text="hi")) as fake:       # inside a running loop
        fake.push(Script(status=500))                          # first request fails
        ...fake.base_url...

    fake = FakeUpstream.start_in_thread()                     # own loop, daemon thread
    fake.set_script(Script(latency_ms=50)); ...; fake.stop()

Token counts are deterministic: prompt tokens are the words of all message text (plus
the scripted cache tokens), completion tokens the words of the reply.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from aiohttp import web

from tokenport.lab.fake_gemini import gemini_turn, signature_violation
from tokenport.lab.fake_wire import (
    BODIES,
    CREATED,
    STREAM_ERRORS,
    STREAMS,
    Frames,
    Protocol,
    Script,
    Turn,
    continuation_of,
    embeddings_body,
    error_body,
    role_violation,
    thinking_violation,
    turn_of,
)

__all__ = ["FakeUpstream", "Received", "Script"]
_CACHE_LIMIT = 4096


class Received(msgspec.Struct):
    """One request as the fake saw it. Header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


class FakeUpstream:
    """A scriptable OpenAI + Anthropic upstream. See the module docstring for use."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: tuple[str, ...] = ("fake-model", "fake-claude"),
        record_limit: int = 10_000,
        pick: Callable[[], Script] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.models = models
        self._lock = threading.Lock()  # scripts and records may be touched from another thread
        self._default = script or Script()
        # Draws each request's script when the one-shot queue is empty (a chaos upstream,
        # bench/chaos.py); None: the default script.
        self._pick = pick
        self._queue: deque[Script] = deque()
        self._records: deque[Received] = deque(maxlen=record_limit)
        self._cache: dict[tuple[Script, Turn], bytes | Frames] = {}
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------

    @property
    def script(self) -> Script:
        return self._default

    def set_script(self, script: Script) -> None:
        """Replace the default script (used whenever the one-shot queue is empty)."""
        with self._lock:
            self._default = script

    def push(self, *scripts: Script) -> None:
        """Queue one-shot scripts; each answers exactly one request, in order."""
        with self._lock:
            self._queue.extend(scripts)

    def reset(self, script: Script | None = None) -> None:
        with self._lock:
            self._default = script or Script()
            self._queue.clear()
            self._records.clear()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> Received:
        with self._lock:
            return self._records[-1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _next_script(self) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            return self._pick() if self._pick is not None else self._default

    # -- lifecycle (in a running loop) ---------------------------------------------------

    async def start(self) -> FakeUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1beta/models/{tail:.+}", self._gemini)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # A short shutdown: tests must not wait on streams still in flight at teardown.
        await web.SockSite(self._runner, sock, backlog=1024).start()
        return self

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- lifecycle (own thread) ----------------------------------------------------------

    @classmethod
    def start_in_thread(cls, script: Script | None = None, **kwargs: Any) -> FakeUpstream:
        """Start on a fresh event loop in a daemon thread, for synchronous clients."""
        fake = cls(script, **kwargs)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            fake._loop = loop
            try:
                loop.run_until_complete(fake.start())
            except BaseException as exc:  # handed to the starting thread below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        fake._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        fake._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake upstream did not start within 10 s")
        if failure:
            raise failure[0]
        return fake

    def stop(self) -> None:
        """Stop a fake started with `start_in_thread`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- handlers ------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _models(self, request: web.Request) -> web.Response:
        # One list readable by both SDKs: OpenAI's and Anthropic's fields side by side.
        data = [
            {
                "id": m,
                "object": "model",
                "created": CREATED,
                "owned_by": "fake",
                "type": "model",
                "display_name": m,
                "created_at": "2024-01-01T00:00:00Z",
            }
            for m in self.models
        ]
        ends = {"first_id": self.models[0], "last_id": self.models[-1]} if self.models else {}
        body = {"object": "list", "data": data, "has_more": False, **ends}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _receive(self, request: web.Request) -> tuple[dict[str, str], Any]:
        """Read and record a request; its body is None when it is not JSON."""
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        with self._lock:
            self._records.append(Received(request.method, request.path, headers, body, raw))
        return headers, body

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        headers, body = await self._receive(request)
        script = self._next_script()
        if script.latency_ms:
            await asyncio.sleep(script.latency_ms / 1000)
        if script.status >= 300 or not isinstance(body, dict):
            return self._error("openai", script, headers)
        return web.Response(body=embeddings_body(body), content_type="application/json")

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, "openai")

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, "anthropic")

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, "gemini")

    async def _chat(self, request: web.Request, protocol: Protocol) -> web.StreamResponse:
        headers, body = await self._receive(request)
        script = self._next_script()
        if script.hang:
            assert self._closing is not None
            await self._closing.wait()
            return _drop(request)
        if script.latency_ms:
            await asyncio.sleep(script.latency_ms / 1000)
        if script.status >= 300 or not isinstance(body, dict):
            return self._error(protocol, script, headers)
        broken = None
        if protocol == "anthropic" and script.thinking_rule:
            broken = thinking_violation(body)
        if protocol == "openai" and script.roles is not None:
            broken = role_violation(body, script.roles)
        if protocol == "gemini" and script.thinking_rule:
            broken = signature_violation(body, script)
        if broken is not None:
            refusal = msgspec.structs.replace(script, status=400, error_message=broken)
            return self._error(protocol, refusal, headers)
        if protocol == "gemini":
            turn = gemini_turn(request.path, body, script)
        else:
            continued = continuation_of(protocol, body, script)
            if continued is not None:
                script = continued[0]
            turn = turn_of(protocol, body, script)
            if continued is not None and continued[1]:
                turn = msgspec.structs.replace(turn, resumed_call=True)
        if not turn.stream:
            return _drop(request) if script.cut_after is not None else self._whole(script, turn)
        return await self._stream(request, script, turn)

    def _error(self, protocol: Protocol, script: Script, headers: dict[str, str]) -> web.Response:
        if script.status < 300:  # a body that was not a JSON object
            script = msgspec.structs.replace(script, status=400, error_message="body is not JSON")
        extra = {"Retry-After": f"{script.retry_after:g}"} if script.retry_after is not None else {}
        body = error_body(protocol, script, headers)
        return web.Response(
            status=script.status, body=body, content_type="application/json", headers=extra
        )

    def _cached(self, script: Script, turn: Turn, make: Callable[[], bytes | Frames]) -> Any:
        key = (script, turn)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[key] = make()
        return found

    def _whole(self, script: Script, turn: Turn) -> web.Response:
        body: bytes = self._cached(script, turn, lambda: BODIES[turn.protocol](script, turn))
        return web.Response(body=body, content_type="application/json")

    async def _stream(self, request: web.Request, script: Script, turn: Turn) -> web.StreamResponse:
        frames: Frames = self._cached(script, turn, lambda: STREAMS[turn.protocol](script, turn))
        head, deltas, tail = frames
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        if script.cut_in_reasoning is not None and turn.protocol == "openai":
            await resp.write(b"".join(head[: 1 + script.cut_in_reasoning]))
            return _drop(request, resp)
        await resp.write(b"".join(head))
        cut, error = script.cut_after, script.stream_error_after
        limit = min([len(deltas), *(k for k in (cut, error) if k is not None)])
        interval = script.chunk_interval_ms / 1000
        if not interval:  # nothing to pace: one write is far cheaper than one per delta
            await resp.write(b"".join(deltas[:limit]))
        for i, frame in enumerate(deltas[:limit] if interval else ()):
            if i:
                await asyncio.sleep(interval)
            await resp.write(frame)
        if cut is not None and (error is None or cut <= error):
            return _drop(request, resp)
        await resp.write(
            STREAM_ERRORS[turn.protocol](script) if error is not None else b"".join(tail)
        )
        await resp.write_eof()
        return resp


def _drop(request: web.Request, resp: web.StreamResponse | None = None) -> web.StreamResponse:
    """Close the connection under a request: the client sees a broken or missing response."""
    if request.transport is not None:
        request.transport.close()
    return resp or web.Response(status=499)


# ---------------------------------------------------------------------------------------
# Command line: `python -m tokenport.lab.fake --port 9000`, for the benchmark


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI + Anthropic upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--stream-chunks", type=int, default=16)
    parser.add_argument("--chunk-interval-ms", type=float, default=0.0)
    parser.add_argument("--text", default=None, help="reply text (default: one word per chunk)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    text = args.text or " ".join(["token"] * max(1, args.stream_chunks))
    script = Script(
        text=text,
        latency_ms=args.latency_ms,
        chunks=args.stream_chunks,
        chunk_interval_ms=args.chunk_interval_ms,
    )
    # Recording nothing keeps memory flat under a long benchmark.
    async with FakeUpstream(script, host=args.host, port=args.port, record_limit=0) as fake:
        print(f"fake upstream listening on {fake.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(_serve(args))


if __name__ == "__main__":
    main()
