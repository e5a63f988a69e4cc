"""Streamed tool calls go out one at a time: a call that starts while the open one is
incomplete is held back and sent whole once the open one closes."""

from __future__ import annotations

from tokenport.wire.tool_stream import CallSequencer, StreamedCall


class _Blocks:
    """An encoder's side of the sequencer: the blocks it opens, fills and closes."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.seq = CallSequencer(lambda i: f"call_{i}", self.open, self.piece, self.before_open)
        self.open_call: StreamedCall | None = None

    def open(self, call: StreamedCall) -> None:
        self.open_call = call
        self.log.append(f"open {call.id} {call.name} {call.arguments}")

    def piece(self, call: StreamedCall, text: str) -> None:
        assert call is self.open_call, "a piece went to a call whose block is not open"
        self.log.append(f"piece {call.id} {text}")

    def before_open(self) -> None:
        if self.open_call is not None:
            self.log.append(f"close {self.open_call.id}")
            self.open_call = None
            self.seq.closed()


def _delta(
    index: int, name: str | None = None, args: str = "", id: str | None = None
) -> dict[str, object]:
    function: dict[str, str] = {"arguments": args}
    if name:
        function["name"] = name
    return {"index": index, "id": id, "function": function}


def test_one_call_streams_live() -> None:
    b = _Blocks()
    b.seq.feed(_delta(0, "get", "", "c0"))
    b.seq.feed(_delta(0, args='{"q": '))
    b.seq.feed(_delta(0, args='"x"}'))
    assert b.log == ["open c0 get ", 'piece c0 {"q": ', 'piece c0 "x"}']


def test_interleaved_calls_are_serialised_and_none_is_lost() -> None:
    b = _Blocks()
    b.seq.feed(_delta(0, "a", "", "c0"))
    b.seq.feed(_delta(1, "b", ""))  # named while call 0 has no arguments yet: held
    b.seq.feed(_delta(0, args='{"x": 1'))
    b.seq.feed(_delta(1, args='{"y": 2}'))  # still held: call 0 is not complete
    b.seq.feed(_delta(0, args="}"))
    b.seq.flush()
    assert b.log == [
        "open c0 a ",
        'piece c0 {"x": 1',
        "piece c0 }",
        "close c0",
        'open call_1 b {"y": 2}',
        "close call_1",
    ]


def test_a_call_that_starts_after_a_complete_one_opens_at_once() -> None:
    b = _Blocks()
    b.seq.feed(_delta(0, "a", "{}", "c0"))
    b.seq.feed(_delta(1, "b", '{"k": 1}', "c1"))
    assert b.log == ["open c0 a {}", "close c0", 'open c1 b {"k": 1}']
    assert b.seq.calls[0].closed and not b.seq.held
