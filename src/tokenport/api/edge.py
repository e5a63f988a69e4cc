"""The request pipeline every front door shares, as a bare ASGI endpoint: the hot path.

authenticate -> read and parse (the door's format) -> route (`routing.router`: aliases,
`auto`, candidates) -> admit (rate limit, credit reservation) -> the gateway (fallbacks,
ledger) -> render (the door's format).

It sits in front of the Starlette app rather than inside it, and stays raw ASGI for speed:
Starlette's Request/Response objects, its middleware stack and StreamingResponse's task
group cost about 30% of the gateway's CPU per request (measured with `bench/`). Errors go
through the same mapping as the Starlette routes (`api/errors.py`), rendered in the door's
shape.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any

from tokenport.api.door import FrontDoor
from tokenport.api.errors import INTERNAL, error_headers, error_message
from tokenport.api.state import State
from tokenport.config import Settings
from tokenport.errors import BadRequest, PayloadTooLarge, RequestTimeout, TokenportError
from tokenport.gateway import RequestContext, is_cut
from tokenport.ids import ulid
from tokenport.ledger.signals import RequestSignals
from tokenport.security.abuse import signals
from tokenport.security.appname import normalize_app
from tokenport.security.clientip import client_ip
from tokenport.security.keys import ApiKey
from tokenport.telemetry.watch import Watch
from tokenport.values import ChatRequest, Door, Route

log = logging.getLogger("tokenport.api")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class BodyAbandoned(Exception):
    """The client went away while the request body was still arriving."""


def api_key(headers: dict[str, str]) -> str | None:
    """`Authorization: Bearer ...` (OpenAI) or `x-api-key` (Anthropic), as an Authorization
    value for the admission layer."""
    auth = headers.get("authorization")
    if auth:
        return auth
    key = headers.get("x-api-key")
    return f"Bearer {key}" if key else None


Handler = Callable[[Scope, dict[str, str], Receive, Send, Watch], Awaitable[None]]
ErrorSender = Callable[[Send, TokenportError], Awaitable[None]]


async def guarded(
    st: State,
    door: Door,
    scope: Scope,
    receive: Receive,
    send: Send,
    handle: Handler,
    send_error: ErrorSender,
) -> None:
    """Run one raw-ASGI POST endpoint inside the boundary they all share: its `Watch` opened
    and closed, a `TokenportError` answered in the endpoint's own error shape, a client gone
    mid-body left alone, a draining process's cut ending the answer early, and anything else
    logged and answered 500."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    watch = st.telemetry.start(door, headers)
    error: TokenportError | None = None
    try:
        await handle(scope, headers, receive, send, watch)
    except TokenportError as exc:
        error = exc
        await send_error(send, exc)
        if st.refusals is not None:  # a refusal's ledger record (api/refusals.py)
            st.refusals.note(door, scope, headers, exc, watch.model)
    except BodyAbandoned:
        return
    except asyncio.CancelledError as exc:
        if not is_cut(exc):
            raise
        uncut()  # cut by a draining process while sending: the answer ends early
    except Exception:
        log.exception("unhandled error on POST %s", scope.get("path"))
        error = INTERNAL
        await send_error(send, INTERNAL)
    finally:
        watch.close(error)


class DoorEndpoint:
    """One door's ASGI endpoint over the shared pipeline."""

    def __init__(self, state: State, door: FrontDoor[Any]) -> None:
        self.st = state
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guarded(self.st, self.door.name, scope, receive, send, self._handle, self._send_error)

    async def _handle(
        self,
        scope: Scope,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
        watch: Watch,
    ) -> None:
        st, door = self.st, self.door
        key = await st.admission.authenticate(api_key(headers))
        body = await read_body(
            headers, receive, st.settings.max_body_bytes, st.settings.body_timeout_s
        )
        call = door.parse(body, headers)
        request = call.request
        watch.parsed(request)
        ctx = context(headers, st.settings.simulation)
        ctx.key_id = key.id if key is not None else None
        ctx.watch = watch
        ctx.cache = st.cache_policy.ask(headers)
        await door.prepare(call, ctx)
        ctx.signals = abuse_signals(st.settings, scope, headers, request)
        if request.plugins is not None:
            await plugins(st, request, ctx)
        decision = st.router.decide(request, ctx.app, ctx.gen_id)
        if st.router.sticky is not None:  # prompt-cache stickiness (routing/sticky.py)
            ctx.pin = await st.router.stick(request, ctx.key_id, decision)
        ctx.requested_model = decision.requested
        routes = decision.routes
        choice = decision.auto
        # A cascade pool (`tokenport.cascade`) decides who answers only after its calls.
        plan = choice.cascade if choice is not None else None
        extra_headers = door.headers(call)
        extra: dict[str, Any] = {}
        if choice is not None and plan is None:
            extra_headers += header_pairs(choice.headers())
            extra["auto"] = choice.summary()
        if key is not None:
            held, held_routes = plan.reservation(request) if plan else (request, routes)
            await admit(st, key, held, held_routes, ctx)
        cascade = None
        if plan is not None and choice is not None:
            # Imported here: a gateway without cascade pools never loads them (what a
            # gateway process loads is held to 60% of the source, tests/api/test_app_footprint.py).
            from tokenport.cascade import Cascade

            cascade = Cascade(st.gateway, plan, request, ctx, st.router.auto)
        # A draining process cuts what is still waiting on an upstream after its grace.
        if not request.stream:
            with st.drain.tracked():
                if cascade is not None:
                    served = await cascade.complete()
                    extra_headers += header_pairs(cascade.headers())
                    extra["auto"] = cascade.summary(choice.requested if choice else "auto")
                else:
                    served = await st.gateway.complete(request, ctx, routes)
            extra["provider"] = served.route.provider
            if ctx.plugins is not None:
                extra["plugins"] = ctx.plugins
            rendered = door.response(call, served, ctx, extra)
            await door.finish(call, ctx, None)
            await send_json(send, 200, rendered, extra_headers + cache_header(ctx))
            return
        with st.drain.tracked():
            if cascade is not None:
                opened = await cascade.open_stream()
                extra_headers += header_pairs(cascade.headers())
                extra["auto"] = cascade.summary(choice.requested if choice else "auto")
            else:
                opened = await st.gateway.open_stream(request, ctx, routes)
            codec = door.codec(call, opened, extra)
            head = _SSE_HEADERS + extra_headers + cache_header(ctx)
            await send({"type": "http.response.start", "status": 200, "headers": head})
            finished = await stream(st.gateway.relay(opened, codec.chunk, codec.end), receive, send)
        if finished:
            await door.finish(call, ctx, codec)

    async def _send_error(self, send: Send, exc: TokenportError) -> None:
        body = self.door.error_body(exc, error_message(exc))
        await send_json(send, exc.status, body, header_pairs(error_headers(exc)))


async def admit(
    st: State, key: ApiKey, request: ChatRequest, routes: list[Route], ctx: RequestContext
) -> None:
    """Reserve the request's worst case on its key; `ctx.done` settles it."""
    reservation = await st.admission.admit(key, request, routes, ctx.gen_id, ctx.ts)
    ctx.hold = reservation.hold
    ctx.watch.held(reservation.nano)
    ctx.on_done = functools.partial(st.admission.settle, reservation)


async def plugins(st: State, request: ChatRequest, ctx: RequestContext) -> None:
    """The request's plugins (`tokenport.plugins`): file-parser rewrites it here; healing
    sees the answer through `ctx.on_answer` before it is settled."""
    applied = await st.plugins.apply(request)
    ctx.plugins = applied.uses
    ctx.on_answer = applied.on_answer


def cache_header(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    status = ctx.cache_status
    return [(b"x-tokenport-cache", status.encode())] if status is not None else []


def uncut() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def stream(frames: AsyncGenerator[bytes, None], receive: Receive, send: Send) -> bool:
    """Relay the stream; stop pulling from upstream as soon as the client disconnects.
    True when the stream ran to its end."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    finished = False
    try:
        async for frame in frames:
            if gone.is_set():
                break
            if frame:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b""})
            finished = True
    finally:
        await frames.aclose()  # on disconnect, the gateway records the request as cut short
        watcher.cancel()
    return finished


async def read_body(
    headers: dict[str, str], receive: Receive, limit: int, timeout: float = 30.0
) -> bytes:
    """The whole body, within `limit` bytes and `timeout` seconds (a client that trickles
    its body would otherwise hold the request, and its worker's slot, for as long as it
    likes)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    try:
        async with asyncio.timeout(timeout):
            return await _read_parts(receive, limit)
    except TimeoutError as exc:
        raise RequestTimeout(f"The request body did not arrive within {timeout:g}s.") from exc


async def _read_parts(receive: Receive, limit: int) -> bytes:
    parts: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyAbandoned
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(part)
        more = message.get("more_body", False)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def context(headers: dict[str, str], simulation: bool) -> RequestContext:
    ctx = RequestContext(
        gen_id=f"gen-{ulid()}",
        app=normalize_app(
            headers.get("x-title") or headers.get("http-referer") or headers.get("referer")
        ),
    )
    sim = headers.get("x-tokenport-sim-time") if simulation else None
    if sim is not None:
        try:
            ctx.ts = float(sim)
            ctx.gen_id = f"gen-{ulid(ctx.ts)}"  # ids stay time-sortable
        except ValueError as exc:
            raise BadRequest("X-Tokenport-Sim-Time must be Unix seconds.") from exc
    return ctx


def abuse_signals(
    settings: Settings, scope: Scope, headers: dict[str, str], request: ChatRequest
) -> RequestSignals:
    """The request's abuse signals (security/abuse/signals.py): where it came from and what
    its prompt looks like, without the prompt itself unless `store_prompts` is on."""
    ip = client_ip(scope, headers, settings.trusted_proxies)
    return signals.compute(request, headers, ip, settings.abuse.store_prompts)


def header_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(headers or ())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
