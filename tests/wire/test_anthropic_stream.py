"""Anthropic Messages streams, both ways: upstream events -> Chunks, and Chunks -> a
client's events that keep Anthropic's grammar whatever the upstream interleaves."""

from __future__ import annotations

import orjson
import pytest

from _grammar import check_anthropic, parse_sse
from tokenport.errors import UpstreamProtocolError
from tokenport.values import Chunk, Delta, Usage
from tokenport.wire.anthropic_stream import EventEncoder, StreamState


def _events(*events: dict[str, object]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


def test_upstream_events_become_chunks() -> None:
    state = StreamState("anthropic")
    chunks: list[Chunk] = []
    for data in _events(
        {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 0}}},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ):
        chunks.extend(state.feed(data))
    state.finish()
    text = "".join(c.delta.content or "" for c in chunks if c.delta is not None)
    assert text == "Hi"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert usage and usage[-1].prompt_tokens == 7 and usage[-1].completion_tokens == 3


def test_a_stream_cut_before_message_stop_is_the_upstreams_fault() -> None:
    state = StreamState("anthropic")
    state.feed(orjson.dumps({"type": "message_start", "message": {}}))
    with pytest.raises(UpstreamProtocolError):
        state.finish()
    with pytest.raises(UpstreamProtocolError):
        state.feed(b"{oops")


def test_interleaved_chunks_encode_as_a_grammatical_stream() -> None:
    enc = EventEncoder("msg_1", "alias", 5)
    out = b"".join(
        [
            enc.chunk(Chunk(delta=Delta(role="assistant", reasoning_content="think"))),
            enc.chunk(Chunk(delta=Delta(content="Hello"))),
            enc.chunk(Chunk(delta=Delta(reasoning_content=" more"))),
            enc.chunk(
                Chunk(
                    delta=Delta(
                        tool_calls=[
                            {"index": 0, "id": "c0", "function": {"name": "a", "arguments": ""}},
                            {"index": 1, "id": "c1", "function": {"name": "b", "arguments": ""}},
                        ]
                    )
                )
            ),
            enc.chunk(
                Chunk(
                    delta=Delta(
                        tool_calls=[
                            {"index": 1, "function": {"arguments": '{"y": 2}'}},
                            {"index": 0, "function": {"arguments": '{"x": 1}'}},
                        ]
                    )
                )
            ),
            enc.chunk(Chunk(finish_reason="tool_calls")),
            enc.end(Usage(5, 9), 0.01),
        ]
    )
    message = check_anthropic(parse_sse(out))
    kinds = [block["type"] for block in message["content"]]
    assert kinds == ["thinking", "text", "thinking", "tool_use", "tool_use"]
    assert [b["input"] for b in message["content"][3:]] == [{"x": 1}, {"y": 2}]
    assert message["stop_reason"] == "tool_use"
