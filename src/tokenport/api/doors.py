"""The Chat Completions and Anthropic Messages doors (`api/door.py` says what a door is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from tokenport.api.door import Call, StreamCodec
from tokenport.api.errors import error_message, error_payload
from tokenport.errors import TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.tokens import TokenCounter
from tokenport.values import Chunk, Door
from tokenport.wire import anthropic_client_in, anthropic_reply, openai_chat
from tokenport.wire.anthropic_stream import EventEncoder, event
from tokenport.wire.sse import sse_frame

_encoder = msgspec.json.Encoder()
_DONE = b"data: [DONE]\n\n"


class _Plain:
    """A door that needs nothing beyond the request and no hooks."""

    async def prepare(self, call: Call[None], ctx: RequestContext) -> None:
        return None

    async def finish(
        self, call: Call[None], ctx: RequestContext, codec: StreamCodec | None
    ) -> None:
        return None

    def headers(self, call: Call[None]) -> list[tuple[bytes, bytes]]:
        return []


# ---------------------------------------------------------------------------------------
# POST /v1/chat/completions


class _ChatCodec:
    __slots__ = ("created", "gen_id", "model", "usage_chunk")

    def __init__(self, opened: OpenStream) -> None:
        self.gen_id = opened.ctx.gen_id
        self.model = opened.route.model_id
        self.created = int(opened.ctx.ts)
        options = opened.request.stream_options
        # The usage-only chunk (`choices: []`) only when asked for: the loop in OpenAI's own
        # docs reads `chunk.choices[0]` and would fail on it.
        self.usage_chunk = bool(options and options.include_usage)

    def chunk(self, chunk: Chunk) -> bytes:
        return sse_frame(
            openai_chat.encode_chat_chunk(self.gen_id, self.model, self.created, chunk)
        )

    def end(self, e: StreamEnd) -> bytes:
        if e.error is not None:
            # Bytes already reached the client, so no fallback: say so in the stream itself.
            return sse_frame(_encoder.encode(error_payload(e.error))) + _DONE
        if not self.usage_chunk:
            return _DONE
        usage = openai_chat.encode_chat_usage_chunk(
            self.gen_id, self.model, self.created, e.usage, e.cost
        )
        return sse_frame(usage) + _DONE


class ChatDoor(_Plain):
    name: Door = "chat"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[None]:
        return Call(openai_chat.parse_chat_request(body), None)

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return _encoder.encode(error_payload(exc))

    def response(
        self, call: Call[None], served: Served, ctx: RequestContext, extra: dict[str, Any]
    ) -> bytes:
        return openai_chat.encode_chat_response(served.response, served.usage, served.cost, extra)

    def codec(self, call: Call[None], opened: OpenStream, extra: dict[str, Any]) -> _ChatCodec:
        return _ChatCodec(opened)


# ---------------------------------------------------------------------------------------
# POST /v1/messages


class _MessagesCodec:
    __slots__ = ("encoder",)

    def __init__(self, opened: OpenStream, input_tokens: int) -> None:
        self.encoder = EventEncoder(opened.ctx.gen_id, opened.route.model_id, input_tokens)

    def chunk(self, chunk: Chunk) -> bytes:
        return self.encoder.chunk(chunk)

    def end(self, e: StreamEnd) -> bytes:
        if e.error is not None:
            error = anthropic_reply.error_object(e.error, error_message(e.error))
            return event("error", {"error": error})
        return self.encoder.end(e.usage, e.cost)


class MessagesDoor(_Plain):
    name: Door = "messages"

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[None]:
        return Call(
            anthropic_client_in.parse_messages_request(body, headers.get("anthropic-beta")), None
        )

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return anthropic_reply.error_body(exc, message)

    def response(
        self, call: Call[None], served: Served, ctx: RequestContext, extra: dict[str, Any]
    ) -> bytes:
        return anthropic_reply.encode_messages_response(
            served.response, served.usage, served.cost, extra
        )

    def codec(self, call: Call[None], opened: OpenStream, extra: dict[str, Any]) -> _MessagesCodec:
        # message_start must carry input tokens before the upstream has counted them.
        return _MessagesCodec(opened, self.counter.rough_messages(opened.request.messages))
