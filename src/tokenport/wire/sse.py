"""Server-sent events, both directions, for OpenAI- and Anthropic-style streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp


async def iter_sse(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[str | None, bytes]]:
    """Yield (event, data) pairs. Multi-line data fields are joined with newlines."""
    event: str | None = None
    data: list[bytes] = []
    async for raw in resp.content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield event, b"\n".join(data)
            event, data = None, []
            continue
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode()
        # comments (":") and id/retry fields carry nothing tokenport uses
    if data:
        yield event, b"\n".join(data)


def sse_frame(payload: bytes, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"
