"""What a front door is: one wire format's view of the shared request pipeline.

Every door (Chat Completions, Anthropic Messages, OpenAI Responses, legacy Completions)
parses its body into the same `ChatRequest`, and renders the gateway's answer, stream and
errors in its own format. Routing, fallbacks, keys, credit, limits, the ledger, usage and
cost are the pipeline's (`api/edge.py`), identical for every door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tokenport.errors import TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.types import ChatRequest, Chunk, Door


class StreamCodec(Protocol):
    """Turns one stream's chunks into the client's bytes (SSE frames)."""

    def chunk(self, chunk: Chunk) -> bytes: ...

    def end(self, e: StreamEnd) -> bytes:
        """The closing frames: usage, or the error when the stream broke after its start."""
        ...


class FrontDoor(Protocol):
    name: Door

    def parse(self, body: bytes, headers: Mapping[str, str]) -> ChatRequest: ...

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        """An error in this API's own shape (`message` is already redacted)."""
        ...

    def response(self, served: Served, ctx: RequestContext, extra: dict[str, Any]) -> bytes: ...

    def codec(self, opened: OpenStream, extra: dict[str, Any]) -> StreamCodec: ...

    async def prepare(self, request: ChatRequest, ctx: RequestContext) -> None:
        """Before routing: e.g. the Responses door loads `previous_response_id`."""
        ...

    async def finish(
        self, request: ChatRequest, ctx: RequestContext, served: Served | StreamCodec
    ) -> None:
        """After a successful answer: e.g. the Responses door stores it."""
        ...
