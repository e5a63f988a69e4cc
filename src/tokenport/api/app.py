"""The ASGI edge: routes, body limits, and the app's lifespan.

Handlers parse once, hand typed values to the `Gateway`, and serialize once. Starlette is
used bare (no middleware stack) because every layer on the hot path is per-request cost.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route as HttpRoute
from ulid import ULID

from tokenport.api.admin import admin_key_from, admin_routes
from tokenport.api.errors import error_payload, handle_tokenport_error, handle_unexpected
from tokenport.api.openai import parse_chat_request
from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog
from tokenport.config import Settings, load_settings
from tokenport.economics.api import economics_endpoint
from tokenport.errors import BadRequest, NotFound, PayloadTooLarge, TokenportError
from tokenport.gateway import Gateway, OpenStream, RequestContext, StreamEnd
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.writer import Ledger
from tokenport.openai_wire import encode_chunk, encode_response, encode_usage_chunk
from tokenport.providers.registry import Registry, build_registry
from tokenport.providers.sse import sse_frame
from tokenport.routing.autoroute import AutoChoice, AutoRouting, is_auto
from tokenport.routing.health import Health
from tokenport.security.admission import Admission
from tokenport.security.keystore import KeyStore
from tokenport.security.limits import Limiter, MemoryLimiter, RedisLimiter
from tokenport.tokenize import TokenCounter
from tokenport.types import ChatRequest, Chunk

LOCAL_URL_ENV = "TOKENPORT_LOCAL_BASE_URL"
_encoder = msgspec.json.Encoder()
_JSON = "application/json"
_DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class State:
    settings: Settings
    catalog: Catalog
    registry: Registry
    gateway: Gateway
    ledger: Ledger
    admission: Admission
    auto: AutoRouting | None
    models_body: bytes
    started: float


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(obj), status_code=status, media_type=_JSON)


def _state(request: Request) -> State:
    state: State = request.app.state.tp
    return state


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(part)
    return b"".join(parts)


def _context(request: Request, simulation: bool) -> RequestContext:
    h = request.headers
    ctx = RequestContext(
        gen_id=f"gen-{ULID()}",
        app=h.get("x-title") or h.get("http-referer") or h.get("referer"),
    )
    sim = h.get("x-tokenport-sim-time") if simulation else None
    if sim is not None:
        try:
            ctx.ts = float(sim)
            ctx.gen_id = f"gen-{ULID.from_timestamp(ctx.ts)}"  # ids stay time-sortable
        except ValueError as exc:
            raise BadRequest("X-Tokenport-Sim-Time must be Unix seconds.") from exc
    return ctx


async def chat_completions(request: Request) -> Response:
    st = _state(request)
    key = await st.admission.authenticate(request.headers.get("authorization"))
    body = await _read_body(request, st.settings.max_body_bytes)
    chat = parse_chat_request(body)
    ctx = _context(request, st.settings.simulation)
    choice = _auto_route(st, chat, ctx) if is_auto(chat.model) else None
    routes = None
    if key is not None:
        ctx.key_id = key.id
        routes = st.gateway.routes_for(chat, ctx.app)
        reservation = await st.admission.admit(key, chat, routes)
        ctx.on_done = functools.partial(st.admission.settle, reservation)
    if not chat.stream:
        served = await st.gateway.complete(chat, ctx, routes)
        extra: dict[str, Any] = {"provider": served.route.provider}
        if choice is not None:
            extra["auto"] = choice.summary()
        return Response(
            encode_response(served.response, served.usage, served.cost, extra),
            media_type=_JSON,
            headers=choice.headers() if choice else None,
        )
    opened = await st.gateway.open_stream(chat, ctx, routes)
    return StreamingResponse(
        _sse(st.gateway, opened),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **(choice.headers() if choice else {}),
        },
    )


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


class _Feedback(msgspec.Struct, forbid_unknown_fields=True):
    score: float
    id: str | None = None
    prompt: str | None = None
    model: str | None = None


async def feedback(request: Request) -> Response:
    """Teach the auto router: a score in [0, 1] for a generation (or a prompt and model)."""
    st = _state(request)
    if st.auto is None:
        raise BadRequest("Feedback trains the auto router, which is not configured here.")
    try:
        fb = msgspec.json.decode(await _read_body(request, 1_000_000), type=_Feedback)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Invalid feedback: {exc}") from exc
    corrected = st.auto.learn(fb.id, fb.score, fb.prompt, fb.model)
    return _json({"data": {"learned": True, "prediction_error": round(corrected, 6)}})


async def _sse(gateway: Gateway, s: OpenStream) -> AsyncIterator[bytes]:
    created = int(s.ctx.ts)
    model = s.route.model_id

    def emit(chunk: Chunk) -> bytes:
        return sse_frame(encode_chunk(s.ctx.gen_id, model, created, chunk))

    def end(e: StreamEnd) -> bytes:
        if e.error is not None:
            # Bytes already reached the client, so no fallback: say so in the stream itself.
            return sse_frame(_encoder.encode(error_payload(e.error))) + _DONE
        return sse_frame(encode_usage_chunk(s.ctx.gen_id, model, created, e.usage, e.cost)) + _DONE

    async for frame in gateway.relay(s, emit, end):
        yield frame


def _per_token(usd_per_m: float | None) -> str | None:
    return None if usd_per_m is None else f"{usd_per_m / 1_000_000:.12f}".rstrip("0").rstrip(".")


def model_entry_json(e: ModelEntry, available: bool) -> dict[str, Any]:
    p = e.pricing
    return {
        "id": e.id,
        "name": e.name,
        "object": "model",
        "owned_by": e.author,
        "provider": e.provider,
        "slug": e.slug,
        "context_length": e.context_length,
        "author": e.author,
        "country": e.country,
        "available": available,
        "pricing": {
            "prompt": _per_token(p.input),
            "completion": _per_token(p.output),
            "input_cache_read": _per_token(p.cache_read),
            "input_cache_write": _per_token(p.cache_write),
        },
        "top_provider": {"context_length": e.context_length, "max_completion_tokens": e.max_output},
    }


def _models_body(catalog: Catalog, registry: Registry) -> bytes:
    data = [model_entry_json(e, e.provider in registry.providers) for e in catalog.entries()]
    return _encoder.encode({"object": "list", "data": data})


async def list_models(request: Request) -> Response:
    st = _state(request)
    if request.query_params.get("available") in ("1", "true"):
        data = [
            model_entry_json(e, True)
            for e in st.catalog.entries()
            if e.provider in st.registry.providers
        ]
        return _json({"object": "list", "data": data})
    return Response(st.models_body, media_type=_JSON)


def generation_json(r: LedgerRecord) -> dict[str, Any]:
    return {
        "data": {
            "id": r.id,
            "created_at": r.ts,
            "model": r.model_served or r.model_requested,
            "model_requested": r.model_requested,
            "provider_name": r.provider,
            "status": r.status,
            "error_class": r.error_class,
            "http_status": r.http_status,
            "tokens_prompt": r.prompt_tokens,
            "tokens_completion": r.completion_tokens,
            "native_tokens_cached": r.cached_tokens,
            "native_tokens_cache_write": r.cache_write_tokens,
            "native_tokens_reasoning": r.reasoning_tokens,
            "usage_estimated": r.usage_estimated,
            "total_cost": r.cost,
            "upstream_cost": r.upstream_cost,
            "latency": r.latency_ms,
            "time_to_first_token": r.ttft_ms,
            "finish_reason": r.finish_reason,
            "streamed": r.stream,
            "app": r.app,
            "region": r.region,
            "energy_wh": r.energy_wh,
            "energy_cost": r.energy_cost,
            "attempts": [msgspec.structs.asdict(a) for a in r.attempts],
        }
    }


async def generation(request: Request) -> Response:
    gen_id = request.query_params.get("id")
    if not gen_id:
        raise BadRequest("Query parameter `id` is required, e.g. ?id=gen-...", param="id")
    record = await _state(request).ledger.get(gen_id)
    if record is None:
        raise NotFound(f"No generation with id '{gen_id}'.")
    return _json(generation_json(record))


async def healthz(request: Request) -> Response:
    st = _state(request)
    return _json(
        {
            "status": "ok",
            "uptime_s": round(time.monotonic() - st.started, 1),
            "providers": {n: s.available for n, s in sorted(st.registry.states.items())},
            "ledger_backlog": st.ledger.backlog(),
            "local_model": st.registry.specs["local"].base_url
            if "local" in st.registry.specs
            else None,
            "routes": st.gateway.health.snapshot(),
        }
    )


async def not_found(request: Request, exc: Exception) -> Response:
    return _json(error_payload(NotFound(f"No route {request.method} {request.url.path}.")), 404)


def build_state(
    settings: Settings,
    env: Mapping[str, str],
    local_base_url: str | None,
    catalog: Catalog | None = None,
) -> State:
    registry = build_registry(settings, env, local_base_url)
    catalog = (catalog or Catalog.load()).with_entries(registry.extra_entries)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(
        settings.ledger_url(),
        settings.data_dir / "journal" / f"w{os.getpid()}",
        flush_interval=settings.ledger_flush_interval_s,
        sync=settings.ledger_sync,
    )
    counter = TokenCounter()
    limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
    admission = Admission(
        KeyStore(settings.ledger_url()), limiter, counter, require_keys=settings.require_keys
    )
    gateway = Gateway(
        resolve=catalog.resolve,
        suggest=catalog.suggest,
        providers=registry.providers,
        states=registry.states,
        health=Health(settings.breaker_failures, settings.breaker_cooldown_s),
        ledger=ledger,
        counter=counter,
        attempt_timeout_s=settings.attempt_timeout_s,
        stream_idle_timeout_s=settings.stream_idle_timeout_s,
        energy=registry.energy,
        interactive_max_rtt_ms=settings.interactive_max_rtt_ms,
        tolerant_apps=tuple(a.lower() for a in settings.tolerant_apps),
    )
    auto = AutoRouting.from_settings(settings, catalog.get, counter)
    return State(
        settings,
        catalog,
        registry,
        gateway,
        ledger,
        admission,
        auto,
        _models_body(catalog, registry),
        time.monotonic(),
    )


def create_app(
    settings: Settings | None = None,
    *,
    local_base_url: str | None = None,
    catalog: Catalog | None = None,
    env: Mapping[str, str] | None = None,
) -> Starlette:
    env = os.environ if env is None else env
    settings = settings or load_settings(env=env)
    local_base_url = local_base_url or env.get(LOCAL_URL_ENV)
    state = build_state(settings, env, local_base_url, catalog)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.ledger.start()
        try:
            yield
        finally:
            await state.gateway.aclose()
            await state.ledger.stop()
            await state.admission.aclose()

    app = Starlette(
        routes=[
            HttpRoute("/v1/chat/completions", chat_completions, methods=["POST"]),
            HttpRoute("/v1/models", list_models, methods=["GET"]),
            HttpRoute("/api/v1/models", list_models, methods=["GET"]),
            HttpRoute("/api/v1/generation", generation, methods=["GET"]),
            HttpRoute("/healthz", healthz, methods=["GET"]),
            HttpRoute("/api/v1/economics", economics_endpoint, methods=["GET"]),
            HttpRoute("/api/v1/feedback", feedback, methods=["POST"]),
            *admin_routes(lambda: state.admission, admin_key_from(env, settings.admin_key_env)),
        ],
        exception_handlers={
            TokenportError: handle_tokenport_error,
            404: not_found,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.tp = state
    return app


def app_factory() -> Starlette:
    """Entry for `uvicorn --factory` in each worker process."""
    return create_app()
