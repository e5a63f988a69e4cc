"""Streamed tool calls, one at a time: what both the Anthropic and the Responses encoders
need from OpenAI-style `tool_calls` deltas.

An OpenAI-compatible upstream may stream parallel calls interleaved (every call named
first, then argument pieces alternating). Anthropic's content blocks and the Responses
output items a client renders are opened and closed one after another, so a delta may only
go to the call whose block is open. The sequencer streams the first call live; a call that
starts while the open one's arguments are not yet a complete JSON object is held back and
sent whole once that call is closed, so no piece ever lands in a closed block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class StreamedCall:
    index: int
    id: str
    name: str
    args: list[str] = field(default_factory=list)
    closed: bool = False

    @property
    def arguments(self) -> str:
        return "".join(self.args)

    def complete(self) -> bool:
        # No arguments yet is not complete: interleaving upstreams name every call first.
        text = self.arguments
        try:
            return bool(text.strip()) and isinstance(orjson.loads(text), dict)
        except orjson.JSONDecodeError:
            return False


class CallSequencer:
    """Feeds OpenAI tool-call deltas out as open / pieces / close, one call at a time.

    `open(call)` must open the call's block and send what it holds so far; `piece(call,
    text)` sends more arguments to the open block. Closing is the encoder's own business:
    it calls `closed()` when it closes the open call's block.
    """

    def __init__(
        self,
        default_id: Callable[[int], str],
        open_call: Callable[[StreamedCall], None],
        piece: Callable[[StreamedCall, str], None],
        before_open: Callable[[], None],
    ) -> None:
        self._default_id = default_id
        self._open = open_call
        self._piece = piece
        self._before_open = before_open
        self.calls: dict[int, StreamedCall] = {}
        self.current: StreamedCall | None = None
        self.held: list[StreamedCall] = []

    def feed(self, delta: dict[str, Any]) -> None:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        args = function.get("arguments") or ""
        call = self.calls.get(index)
        if call is None:
            call = self.calls[index] = StreamedCall(
                index, delta.get("id") or self._default_id(index), function.get("name") or ""
            )
        elif function.get("name") and not call.name:
            call.name = function["name"]
        if call is self.current:
            call.args.append(args)
            if args:
                self._piece(call, args)
            return
        if call.closed:
            return  # a stray piece after a complete call: its block is already stopped
        call.args.append(args)
        if self.current is None or self.current.complete():
            self._start(call)
        elif call not in self.held:
            self.held.append(call)

    def _start(self, call: StreamedCall) -> None:
        self._before_open()  # closes whatever block is open, the current call's included
        if call in self.held:
            self.held.remove(call)
        self.current = call
        self._open(call)

    def closed(self) -> None:
        """The encoder closed the open call's block."""
        if self.current is not None:
            self.current.closed = True
            self.current = None

    def flush(self) -> None:
        """At the end: open (and let the encoder close) every call still held back."""
        while self.held:
            self._start(self.held[0])
            self._before_open()
