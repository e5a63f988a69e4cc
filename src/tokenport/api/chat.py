"""`POST /v1/chat/completions` as a bare ASGI endpoint: the gateway's hot path.

It sits in front of the Starlette app rather than inside it: Starlette's Request/Response
objects, its middleware stack and StreamingResponse's task group cost about 30% of the
gateway's CPU per request (measured with `bench/`). Everything else, errors included, goes
through the same helpers the Starlette routes use.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
from ulid import ULID

from tokenport.api.errors import error_payload, retry_after
from tokenport.api.openai import parse_chat_request
from tokenport.api.state import State
from tokenport.errors import BadRequest, PayloadTooLarge, TokenportError
from tokenport.gateway import Gateway, OpenStream, RequestContext, StreamEnd
from tokenport.openai_wire import encode_chunk, encode_response, encode_usage_chunk
from tokenport.providers.sse import sse_frame
from tokenport.routing.autoroute import AutoChoice, is_auto
from tokenport.types import ChatRequest, Chunk

log = logging.getLogger("tokenport.api")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_encoder = msgspec.json.Encoder()
_DONE = b"data: [DONE]\n\n"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _Disconnected(Exception):
    """The client went away while the request body was still arriving."""


class ChatEndpoint:
    def __init__(self, state: State) -> None:
        self.st = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            await self._handle(headers, receive, send)
        except TokenportError as exc:
            await _send_error(send, exc)
        except _Disconnected:
            return
        except Exception:
            log.exception("unhandled error on POST /v1/chat/completions")
            await _send_json(
                send,
                500,
                _encoder.encode(
                    {
                        "error": {
                            "message": "Internal error in the gateway; it has been logged.",
                            "type": "api_error",
                            "code": "internal_error",
                            "param": None,
                        }
                    }
                ),
            )

    async def _handle(self, headers: dict[str, str], receive: Receive, send: Send) -> None:
        st = self.st
        key = await st.admission.authenticate(headers.get("authorization"))
        chat = parse_chat_request(await _read_body(headers, receive, st.settings.max_body_bytes))
        ctx = _context(headers, st.settings.simulation)
        choice = _auto_route(st, chat, ctx) if is_auto(chat.model) else None
        extra_headers = [
            (k.lower().encode(), v.encode())
            for k, v in (choice.headers().items() if choice else ())
        ]
        routes = None
        if key is not None:
            ctx.key_id = key.id
            routes = st.gateway.routes_for(chat, ctx.app)
            reservation = await st.admission.admit(key, chat, routes, ctx.gen_id)
            ctx.hold = reservation.hold
            ctx.on_done = functools.partial(st.admission.settle, reservation)
        if not chat.stream:
            served = await st.gateway.complete(chat, ctx, routes)
            extra: dict[str, Any] = {"provider": served.route.provider}
            if choice is not None:
                extra["auto"] = choice.summary()
            body = encode_response(served.response, served.usage, served.cost, extra)
            await _send_json(send, 200, body, extra_headers)
            return
        opened = await st.gateway.open_stream(chat, ctx, routes)
        await send(
            {"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS + extra_headers}
        )
        await _stream(st.gateway, opened, receive, send)


async def _stream(gateway: Gateway, opened: OpenStream, receive: Receive, send: Send) -> None:
    """Relay the stream; stop pulling from upstream as soon as the client disconnects."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    frames = sse_frames(gateway, opened)
    try:
        async for frame in frames:
            if gone.is_set():
                break
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b""})
    finally:
        await frames.aclose()  # on disconnect, the gateway records the request as cut short
        watcher.cancel()


def sse_frames(gateway: Gateway, s: OpenStream) -> AsyncGenerator[bytes, None]:
    created = int(s.ctx.ts)
    model = s.route.model_id

    def emit(chunk: Chunk) -> bytes:
        return sse_frame(encode_chunk(s.ctx.gen_id, model, created, chunk))

    def end(e: StreamEnd) -> bytes:
        if e.error is not None:
            # Bytes already reached the client, so no fallback: say so in the stream itself.
            return sse_frame(_encoder.encode(error_payload(e.error))) + _DONE
        return sse_frame(encode_usage_chunk(s.ctx.gen_id, model, created, e.usage, e.cost)) + _DONE

    return gateway.relay(s, emit, end)


async def _read_body(headers: dict[str, str], receive: Receive, limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    parts: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(part)
        more = message.get("more_body", False)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _context(headers: dict[str, str], simulation: bool) -> RequestContext:
    ctx = RequestContext(
        gen_id=f"gen-{ULID()}",
        app=headers.get("x-title") or headers.get("http-referer") or headers.get("referer"),
    )
    sim = headers.get("x-tokenport-sim-time") if simulation else None
    if sim is not None:
        try:
            ctx.ts = float(sim)
            ctx.gen_id = f"gen-{ULID.from_timestamp(ctx.ts)}"  # ids stay time-sortable
        except ValueError as exc:
            raise BadRequest("X-Tokenport-Sim-Time must be Unix seconds.") from exc
    return ctx


def _auto_route(st: State, chat: ChatRequest, ctx: RequestContext) -> AutoChoice:
    if st.auto is None:
        raise BadRequest(
            "`model: auto` needs a trained router: run `tokenport router train --data FILE "
            "--out router.npz`, then set [auto] artifact and [auto.pools.default] in the config.",
            param="model",
        )
    choice = st.auto.route(chat)
    ctx.requested_model = choice.requested
    st.auto.remember(ctx.gen_id, chat, choice)
    return choice


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(headers or ())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, exc: TokenportError) -> None:
    wait = retry_after(exc)
    extra = [(b"retry-after", str(max(1, round(wait))).encode())] if wait is not None else []
    await _send_json(send, exc.status, _encoder.encode(error_payload(exc)), extra)
