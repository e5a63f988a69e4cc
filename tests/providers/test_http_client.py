"""The pooled upstream client against raw loopback servers: the HTTP edge cases that the fake
upstream (always well-behaved aiohttp) never produces."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from tokenport.errors import (
    ConfigError,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.providers.http import UpstreamClient
from tokenport.wire.sse import iter_sse

pytestmark = pytest.mark.timeout(10)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


async def _post(client: UpstreamClient, timeout: float = 2.0) -> bytes:
    async with client.post("/chat/completions", b"{}", timeout) as resp:
        return await resp.read()


async def _drain_stream(client: UpstreamClient, timeout: float) -> None:
    async with client.post("/chat/completions", b"{}", timeout, stream=True) as resp:
        async for _ in iter_sse(resp):
            pass


def _response(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def test_keep_alive_reuses_one_connection() -> None:
    connections = 0
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                seen.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                return
            writer.write(_response(b'{"ok":1}'))

    server, url = await _serve(handler)
    async with server:
        client = UpstreamClient("p", url, {"Authorization": "Bearer sk-test"})
        assert [await _post(client) for _ in range(3)] == [b'{"ok":1}'] * 3
        await client.aclose()
    assert connections == 1
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"Authorization: Bearer sk-test\r\n" in seen[0] and seen[0].endswith(b"\r\n\r\n{}")


async def test_gzip_and_eof_delimited_bodies() -> None:
    payload = b'{"text":"' + b"x" * 5000 + b'"}'

    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await _read_request(reader)
        if calls == 1:
            writer.write(_response(gzip.compress(payload), "Content-Encoding: gzip"))
            writer.close()
        else:  # no length, not chunked: the body ends with the connection
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + payload)
            await writer.drain()
            writer.close()

    server, url = await _serve(handler)
    async with server:
        client = UpstreamClient("p", url, {})
        assert await _post(client) == payload
        assert await _post(client) == payload
        await client.aclose()


async def test_large_streamed_body_survives_pausing() -> None:
    events = [b"data: " + str(i).encode() * 2000 + b"\n\n" for i in range(1500)]  # ~3 MB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for e in events:
            writer.write(f"{len(e):x}\r\n".encode() + e + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    server, url = await _serve(handler)
    async with server:
        client = UpstreamClient("p", url, {})
        got = []
        async with client.post("/chat/completions", b"{}", 2.0, stream=True) as resp:
            async for _event, data in iter_sse(resp):
                got.append(data)
                if len(got) % 100 == 0:
                    await asyncio.sleep(0.001)  # a slow consumer, so reading pauses
        await client.aclose()
    assert len(got) == len(events) and got[7] == b"7" * 2000


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"", UpstreamConnectError),  # closed before any answer
        (b"NOT HTTP AT ALL\r\n\r\n", UpstreamProtocolError),
        (
            b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nRetry-After: 2\r\n\r\nbusy",
            UpstreamServerError,
        ),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut', UpstreamConnectError),
    ],
    ids=["closed", "garbage", "503", "cut-body"],
)
async def test_failures_map_to_upstream_errors(reply: bytes, error: type[Exception]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server, url = await _serve(handler)
    async with server:
        client = UpstreamClient("p", url, {})
        with pytest.raises(error) as caught:
            await _post(client)
        if isinstance(caught.value, UpstreamServerError):
            assert caught.value.retry_after == 2.0
        await client.aclose()


async def test_stream_idle_timeout_and_refused_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await asyncio.sleep(5)

    server, url = await _serve(handler)
    async with server:
        client = UpstreamClient("p", url, {})
        with pytest.raises(UpstreamTimeout):
            await _drain_stream(client, 0.2)
        await client.aclose()
    dead = UpstreamClient("p", url, {})  # the server is gone now
    with pytest.raises(UpstreamConnectError):
        await _post(dead)


async def test_header_with_line_break_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        UpstreamClient("p", "http://127.0.0.1:1/v1", {"X-Evil": "a\r\nHost: elsewhere"})
