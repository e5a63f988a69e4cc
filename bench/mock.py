"""A lean OpenAI-compatible mock upstream for the benchmark: raw asyncio protocol, uvloop,
httptools, and responses precomputed at start, so it costs a few microseconds per request.

    python bench/mock.py --port 9101 --latency-ms 0 --stream-chunks 20 --chunk-interval-ms 5

POST /v1/chat/completions answers a fixed completion after `--latency-ms`. A body with
`"stream": true` gets an SSE stream: the first chunk after `--latency-ms`, then one chunk
every `--chunk-interval-ms`, a usage chunk when `include_usage` was asked for, and `[DONE]`.
GET /v1/models, /health and /stats (requests served) answer at once. Timers are
`loop.call_later` callbacks, not tasks, so a delayed answer costs no coroutine.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import socket
from collections.abc import Callable
from typing import cast

import httptools
import msgspec
import uvloop

MODEL = "mock-model"
CREATED = 1_700_000_000
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')


def _http(status: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    head = (
        b"HTTP/1.1 " + status.encode() + b"\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: keep-alive\r\n\r\n"
    )
    return head + body


def _chunked(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _sse(obj: object) -> bytes:
    return _chunked(b"data: " + msgspec.json.encode(obj) + b"\n\n")


def completion_body(text: str) -> bytes:
    words = len(text.split())
    return msgspec.json.encode(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": words, "total_tokens": 12 + words},
        }
    )


def stream_frames(chunks: int) -> tuple[bytes, list[bytes], bytes]:
    """(response head, one frame per content chunk with the last one finishing, usage+DONE)."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED}
    frames = []
    for i in range(chunks):
        delta: dict[str, str] = {"content": f"tok{i} "}
        if i == 0:
            delta["role"] = "assistant"
        last = i == chunks - 1
        choice = {"index": 0, "delta": delta, "finish_reason": "stop" if last else None}
        frames.append(_sse({**base, "model": MODEL, "choices": [choice]}))
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    tail = _sse({**base, "model": MODEL, "choices": [], "usage": usage})
    return head, frames, tail


class Responses:
    def __init__(self, stream_chunks: int) -> None:
        self.completion = _http("200 OK", completion_body("Hello from the benchmark mock."))
        models = {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "b"}]}
        self.models = _http("200 OK", msgspec.json.encode(models))
        self.health = _http("200 OK", b'{"status":"ok"}')
        self.not_found = _http("404 Not Found", b'{"error":{"message":"not found"}}')
        self.stream_head, self.stream_frames, self.usage_frame = stream_frames(stream_chunks)
        self.done = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class Mock:
    """Shared settings and counters for every connection."""

    def __init__(self, latency_s: float, interval_s: float, responses: Responses) -> None:
        self.latency_s = latency_s
        self.interval_s = interval_s
        self.r = responses
        self.served = 0
        self.loop = asyncio.get_event_loop()

    def stats(self) -> bytes:
        return _http("200 OK", msgspec.json.encode({"served": self.served}))


class MockProtocol(asyncio.Protocol):
    __slots__ = ("_body", "_mock", "_parser", "_transport", "_url")

    def __init__(self, mock: Mock) -> None:
        self._mock = mock
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(self._mock.r.not_found)
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url, body = self._url, b"".join(self._body)
        self._url, self._body = b"", []
        m = self._mock
        m.served += 1
        if url.endswith(b"/chat/completions"):
            if _STREAM_RE.search(body):
                self._stream(b"include_usage" in body)
            else:
                self._later(m.latency_s, m.r.completion)
        elif url.endswith(b"/models"):
            self._send(m.r.models)
        elif url.startswith(b"/health"):
            self._send(m.r.health)
        elif url.startswith(b"/stats"):
            self._send(m.stats())
        else:
            self._send(m.r.not_found)

    def _send(self, data: bytes) -> None:
        t = self._transport
        if t is not None and not t.is_closing():
            t.write(data)

    def _later(self, delay: float, data: bytes) -> None:
        if delay <= 0:
            self._send(data)
        else:
            self._mock.loop.call_later(delay, self._send, data)

    def _stream(self, usage: bool) -> None:
        m = self._mock
        frames = m.r.stream_frames
        tail = (m.r.usage_frame if usage else b"") + m.r.done
        self._later(m.latency_s, m.r.stream_head + frames[0] + (tail if len(frames) == 1 else b""))
        for i in range(1, len(frames)):
            data = frames[i] + (tail if i == len(frames) - 1 else b"")
            self._later(m.latency_s + i * m.interval_s, data)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9101)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--stream-chunks", type=int, default=20)
    p.add_argument("--chunk-interval-ms", type=float, default=5.0)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace, ready: Callable[[int], None] | None = None) -> None:
    mock = Mock(
        args.latency_ms / 1000.0,
        args.chunk_interval_ms / 1000.0,
        Responses(max(1, args.stream_chunks)),
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: MockProtocol(mock), args.host, args.port, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(f"mock listening on http://{args.host}:{port}/v1", flush=True)
    if ready is not None:
        ready(port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    uvloop.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
