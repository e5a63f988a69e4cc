"""Server-sent events: frames out, (event, data) pairs in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import aiohttp

from tokenport.wire.sse import iter_sse, sse_frame


class _Body:
    """What `iter_sse` reads of an aiohttp response: `content`, an async iterator of lines."""

    def __init__(self, raw: bytes) -> None:
        self.lines = raw.splitlines(keepends=True)

    @property
    def content(self) -> AsyncIterator[bytes]:
        async def lines() -> AsyncIterator[bytes]:
            for line in self.lines:
                yield line

        return lines()


async def _pairs(raw: bytes) -> list[tuple[str | None, bytes]]:
    resp = cast(aiohttp.ClientResponse, _Body(raw))
    return [pair async for pair in iter_sse(resp)]


def test_a_frame_names_its_event_when_given_one() -> None:
    assert sse_frame(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert sse_frame(b"{}", "ping") == b"event: ping\ndata: {}\n\n"


async def test_frames_read_back_as_events_and_data() -> None:
    raw = sse_frame(b'{"a":1}') + sse_frame(b"{}", "message_stop") + b"data: [DONE]\n\n"
    assert await _pairs(raw) == [(None, b'{"a":1}'), ("message_stop", b"{}"), (None, b"[DONE]")]


async def test_multi_line_data_is_joined_and_comments_are_skipped() -> None:
    raw = b": keep-alive\r\nevent: x\r\ndata: one\r\ndata: two\r\nid: 7\r\n\r\ndata: last"
    assert await _pairs(raw) == [("x", b"one\ntwo"), (None, b"last")]
