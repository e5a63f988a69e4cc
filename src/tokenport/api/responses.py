"""`POST /v1/responses` (the Responses door), `GET` and `DELETE /v1/responses/{id}`.

A stored response (`store`, the default, as at OpenAI) keeps the response object and the
conversation that led to it, so `previous_response_id` can continue it. Each is scoped to
the key that made it: another key, or no key, gets 404 for it, as for an id that never
existed. Stored responses expire after `responses_ttl_s`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.door import Call, StreamCodec
from tokenport.api.edge import api_key
from tokenport.api.errors import error_message, error_payload
from tokenport.api.http import JSON_TYPE, json_response
from tokenport.api.response_store import ResponseStore, StoredResponse
from tokenport.api.state import State
from tokenport.errors import NotFound, ServiceUnavailable, TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.values import Chunk, Door, Message
from tokenport.wire.responses_client_in import ResponsesCall, parse_responses_request
from tokenport.wire.responses_client_out import ResponsesEncoder, message_of, response_object

log = logging.getLogger("tokenport.api")
_encoder = msgspec.json.Encoder()
_messages = msgspec.json.Decoder(list[Message])


class _Codec:
    __slots__ = ("encoder",)

    def __init__(self, call: ResponsesCall, opened: OpenStream) -> None:
        ctx = opened.ctx
        self.encoder = ResponsesEncoder(call, ctx.gen_id, opened.route.model_id, ctx.ts)

    def chunk(self, chunk: Chunk) -> bytes:
        return self.encoder.chunk(chunk)

    def end(self, e: StreamEnd) -> bytes:
        if e.error is not None:
            return self.encoder.failed(e.error.code, error_message(e.error))
        return self.encoder.end(e.usage, e.cost)


class ResponsesDoor:
    name: Door = "responses"

    def __init__(self, store: ResponseStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[ResponsesCall]:
        request, call = parse_responses_request(body)
        return Call(request, call)

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return _encoder.encode(error_payload(exc))

    def headers(self, call: Call[ResponsesCall]) -> list[tuple[bytes, bytes]]:
        dropped = call.state.dropped
        return [(b"x-tokenport-dropped-tools", ",".join(dropped).encode())] if dropped else []

    async def prepare(self, call: Call[ResponsesCall], ctx: RequestContext) -> None:
        previous = call.state.body.previous_response_id
        if previous is None:
            return
        stored = await self.store.get(previous, ctx.key_id, time.time())
        if stored is None:
            raise NotFound(f"No stored response with id '{previous}'.")
        earlier = _messages.decode(stored.conversation)
        messages = call.request.messages
        lead = call.state.leading  # this request's own instructions replace earlier ones
        call.request.messages = [*messages[:lead], *earlier, *messages[lead:]]

    def response(
        self, call: Call[ResponsesCall], served: Served, ctx: RequestContext, extra: dict[str, Any]
    ) -> bytes:
        choice = served.response.choices[0] if served.response.choices else None
        message = choice.message if choice is not None else Message(role="assistant")
        obj = response_object(
            call.state,
            ctx.gen_id,
            served.route.model_id,
            ctx.ts,
            message,
            choice.finish_reason if choice is not None else None,
            served.usage,
            served.cost,
        )
        obj.update(extra)
        call.state.stored = (obj, message)
        return _encoder.encode(obj)

    def codec(
        self, call: Call[ResponsesCall], opened: OpenStream, extra: dict[str, Any]
    ) -> StreamCodec:
        return _Codec(call.state, opened)

    async def finish(
        self, call: Call[ResponsesCall], ctx: RequestContext, codec: StreamCodec | None
    ) -> None:
        if not call.state.body.store:
            return
        if isinstance(codec, _Codec):
            obj = codec.encoder.response
            message = message_of(codec.encoder.output)
        elif call.state.stored is not None:
            obj, message = call.state.stored
        else:
            return
        conversation = [*call.request.messages[call.state.leading :], message]
        now = time.time()
        try:
            await self.store.put(
                StoredResponse(
                    id=ctx.gen_id,
                    key_id=ctx.key_id,
                    created_at=now,
                    expires_at=now + self.ttl_s,
                    response=_encoder.encode(obj),
                    conversation=_encoder.encode(conversation),
                )
            )
        except ServiceUnavailable as exc:
            # The answer exists and must reach the client; only its later retrieval fails.
            log.warning("response %s not stored: %s", ctx.gen_id, exc)


def routes(state: Callable[[], State]) -> list[Route]:
    async def owner(request: Request) -> str | None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = await state().admission.authenticate(api_key(headers))
        return key.id if key is not None else None

    async def get(request: Request) -> Response:
        rid = request.path_params["response_id"]
        stored = await state().responses.get(rid, await owner(request), time.time())
        if stored is None:
            raise NotFound(f"No stored response with id '{rid}'.")
        return Response(stored.response, media_type=JSON_TYPE)

    async def delete(request: Request) -> Response:
        rid = request.path_params["response_id"]
        if not await state().responses.delete(rid, await owner(request)):
            raise NotFound(f"No stored response with id '{rid}'.")
        body = {"id": rid, "object": "response.deleted", "deleted": True}
        return json_response(body)

    return [
        Route(f"{prefix}/v1/responses/{{response_id}}", fn, methods=[method])
        for prefix in ("", "/api")
        for fn, method in ((get, "GET"), (delete, "DELETE"))
    ]
