"""The fake upstream's Anthropic bodies: messages, whole and streamed."""

from __future__ import annotations

from typing import Any

import orjson

from tokenport.lab.fake_script import Script, Turn, completion_tokens, reply_text, split_text
from tokenport.wire.sse import sse_frame


def _anthropic_usage(script: Script, turn: Turn, output: int) -> dict[str, Any]:
    return {
        "input_tokens": turn.words,
        "output_tokens": output,
        "cache_creation_input_tokens": script.cache_write_tokens,
        "cache_read_input_tokens": script.cache_read_tokens,
    }


def _anthropic_stop(script: Script, turn: Turn) -> str:
    if turn.tool:
        return "tool_use"
    return "max_tokens" if script.finish == "length" else "end_turn"


def _anthropic_message(
    script: Script, turn: Turn, content: list[Any], done: bool
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": _anthropic_stop(script, turn) if done else None,
        "stop_sequence": None,
    }
    if turn.include_usage:
        output = completion_tokens(script, turn) if done else 1
        message["usage"] = _anthropic_usage(script, turn, output)
    return message


def _anthropic_blocks(script: Script, turn: Turn, done: bool) -> list[dict[str, Any]]:
    """The answer's content blocks, whole (`done`) or as each block's start."""
    blocks: list[dict[str, Any]] = []
    if script.reasoning:
        blocks.append(
            {
                "type": "thinking",
                "thinking": script.reasoning if done else "",
                "signature": script.signature if done else "",
            }
        )
    if turn.tool:
        args = orjson.loads(script.tool_arguments) if done else {}
        blocks += [
            {"type": "tool_use", "id": f"toolu_fake_{i}", "name": turn.tool, "input": args}
            for i in range(script.parallel_calls)
        ]
    else:
        blocks.append({"type": "text", "text": reply_text(script, turn) if done else ""})
    return blocks


def anthropic_body(script: Script, turn: Turn) -> bytes:
    return orjson.dumps(
        _anthropic_message(script, turn, _anthropic_blocks(script, turn, True), True)
    )


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return sse_frame(orjson.dumps({"type": name, **payload}), name)


def anthropic_stream(script: Script, turn: Turn) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(head, deltas, tail) frames of a Messages stream, in Anthropic's event order."""
    head = [_event("message_start", {"message": _anthropic_message(script, turn, [], False)})]
    deltas: list[bytes] = []
    for index, block in enumerate(_anthropic_blocks(script, turn, False)):
        frames = [
            _event("content_block_start", {"index": index, "content_block": block}),
            *_block_deltas(script, turn, index, block["type"]),
            _event("content_block_stop", {"index": index}),
        ]
        if index == 0:  # the scripted deltas start with the first block's first delta
            head += [frames[0], _event("ping", {})]
            frames = frames[1:]
        deltas += frames
    stop: dict[str, Any] = {
        "delta": {"stop_reason": _anthropic_stop(script, turn), "stop_sequence": None}
    }
    if turn.include_usage:
        stop["usage"] = {"output_tokens": completion_tokens(script, turn)}
    tail = [_event("message_delta", stop), _event("message_stop", {})]
    return head, deltas, tail


def _block_deltas(script: Script, turn: Turn, index: int, kind: str) -> list[bytes]:
    if kind == "thinking":
        pieces = [
            {"type": "thinking_delta", "thinking": p}
            for p in split_text(script.reasoning or "", script.chunks)
        ]
        pieces.append({"type": "signature_delta", "signature": script.signature})
    elif kind == "tool_use":
        pieces = [
            {"type": "input_json_delta", "partial_json": p}
            for p in split_text(script.tool_arguments, script.chunks)
        ]
    else:
        pieces = [
            {"type": "text_delta", "text": p}
            for p in split_text(reply_text(script, turn), script.chunks)
        ]
    return [_event("content_block_delta", {"index": index, "delta": d}) for d in pieces]


def anthropic_stream_error(script: Script) -> bytes:
    error = {
        "type": script.stream_error_type,
        "message": f"fake upstream {script.stream_error_type}",
    }
    return _event("error", {"error": error})
