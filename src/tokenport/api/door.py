"""What a front door is: one wire format's view of the shared request pipeline.

Every door (Chat Completions, Anthropic Messages, OpenAI Responses, legacy Completions)
parses its body into the same `ChatRequest`, and renders the gateway's answer, stream and
errors in its own format. Routing, fallbacks, keys, credit, limits, the ledger, usage and
cost are the pipeline's (`api/edge.py`), identical for every door.

`parse` returns a `Call`: the request, plus whatever the door must remember to render the
answer (the Responses door keeps its tool names and conversation there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from tokenport.errors import TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.values import ChatRequest, Chunk, Door

S = TypeVar("S")


@dataclass(slots=True)
class Call(Generic[S]):
    request: ChatRequest
    state: S


class StreamCodec(Protocol):
    """Turns one stream's chunks into the client's bytes (SSE frames)."""

    def chunk(self, chunk: Chunk) -> bytes: ...

    def end(self, e: StreamEnd) -> bytes:
        """The closing frames: usage, or the error when the stream broke after its start."""
        ...


class FrontDoor(Protocol[S]):
    name: Door

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[S]: ...

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        """An error in this API's own shape (`message` is already redacted)."""
        ...

    def response(
        self, call: Call[S], served: Served, ctx: RequestContext, extra: dict[str, Any]
    ) -> bytes: ...

    def codec(self, call: Call[S], opened: OpenStream, extra: dict[str, Any]) -> StreamCodec: ...

    def headers(self, call: Call[S]) -> list[tuple[bytes, bytes]]:
        """Response headers of the door's own (lower-case names)."""
        ...

    async def prepare(self, call: Call[S], ctx: RequestContext) -> None:
        """Before routing: e.g. the Responses door loads `previous_response_id`."""
        ...

    async def finish(self, call: Call[S], ctx: RequestContext, codec: StreamCodec | None) -> None:
        """After a successful answer (`codec` for a stream): e.g. the Responses door stores it."""
        ...
