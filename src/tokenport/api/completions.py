"""`POST /v1/completions`, the legacy endpoint, as a door over the chat pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from tokenport.api.door import Call, StreamCodec
from tokenport.api.errors import error_payload
from tokenport.errors import TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.values import Chunk, Door
from tokenport.wire import completions
from tokenport.wire.completions import CompletionCall
from tokenport.wire.sse import sse_frame

_encoder = msgspec.json.Encoder()
_DONE = b"data: [DONE]\n\n"


class _Codec:
    def __init__(self, call: CompletionCall, opened: OpenStream) -> None:
        self.gen_id = opened.ctx.gen_id
        self.model = opened.route.model_id
        self.created = int(opened.ctx.ts)
        options = opened.request.stream_options
        self.usage_chunk = bool(options and options.include_usage)
        self.echo = call.prompt if call.echo else ""  # sent before the first piece of text

    def chunk(self, chunk: Chunk) -> bytes:
        text = (chunk.delta.content or "") if chunk.delta is not None else ""
        if not text and chunk.finish_reason is None and chunk.logprobs is None:
            return b""  # a role-only or reasoning-only delta has nothing to say here
        text, self.echo = self.echo + text, ""
        return sse_frame(
            completions.encode_completions_chunk(self.gen_id, self.model, self.created, chunk, text)
        )

    def end(self, e: StreamEnd) -> bytes:
        if e.error is not None:
            return sse_frame(_encoder.encode(error_payload(e.error))) + _DONE
        if not self.usage_chunk:
            return _DONE
        usage = completions.encode_completions_usage_chunk(
            self.gen_id, self.model, self.created, e.usage, e.cost
        )
        return sse_frame(usage) + _DONE


class CompletionsDoor:
    name: Door = "completions"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[CompletionCall]:
        request, call = completions.parse_completions_request(body)
        return Call(request, call)

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return _encoder.encode(error_payload(exc))

    def headers(self, call: Call[CompletionCall]) -> list[tuple[bytes, bytes]]:
        return []

    async def prepare(self, call: Call[CompletionCall], ctx: RequestContext) -> None:
        return None

    def response(
        self,
        call: Call[CompletionCall],
        served: Served,
        ctx: RequestContext,
        extra: dict[str, Any],
    ) -> bytes:
        return completions.encode_completions_response(
            served.response, call.state, served.usage, served.cost
        )

    def codec(
        self, call: Call[CompletionCall], opened: OpenStream, extra: dict[str, Any]
    ) -> StreamCodec:
        return _Codec(call.state, opened)

    async def finish(
        self, call: Call[CompletionCall], ctx: RequestContext, codec: StreamCodec | None
    ) -> None:
        return None
