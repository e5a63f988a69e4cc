"""The ASGI app: the front doors' hot path (`api/edge.py`) in front of Starlette for the rest.

Handlers parse once, hand typed values to the `Gateway`, and serialize once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.datastructures import State as StarletteState
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute

from tokenport.analytics import rollups
from tokenport.analytics.api import routes as analytics_routes
from tokenport.api.abuse import routes as abuse_routes
from tokenport.api.admin import admin_key_from, admin_routes
from tokenport.api.completions import CompletionsDoor
from tokenport.api.door import FrontDoor
from tokenport.api.doors import ChatDoor, MessagesDoor
from tokenport.api.edge import DoorEndpoint, Endpoint, Receive, Scope, Send
from tokenport.api.embeddings import EmbeddingsEndpoint
from tokenport.api.errors import error_payload, handle_tokenport_error, handle_unexpected
from tokenport.api.models import model_entry_json
from tokenport.api.responses import ResponsesDoor
from tokenport.api.responses import routes as responses_routes
from tokenport.api.state import State, build_state
from tokenport.api.surface import routes as surface_routes
from tokenport.catalog.store import Catalog
from tokenport.config import Settings, load_settings
from tokenport.economics.api import economics_endpoint
from tokenport.economics.settings import economics_of
from tokenport.errors import BadRequest, NotFound, PayloadTooLarge, TokenportError
from tokenport.ledger.record import LedgerRecord
from tokenport.security.access import Access, Viewer
from tokenport.security.feedback_policy import admit_feedback

LOCAL_URL_ENV = "TOKENPORT_LOCAL_BASE_URL"
_encoder = msgspec.json.Encoder()
_JSON = "application/json"


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(obj), status_code=status, media_type=_JSON)


def _state(request: Request) -> State:
    state: State = request.app.state.tp
    return state


async def _viewer(request: Request) -> Viewer:
    """Who is asking (security/access.py); 401 without a key where keys are required."""
    access: Access = request.app.state.access
    return await access.viewer(request.headers.get("authorization"))


async def _read_body(request: Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(part)
    return b"".join(parts)


async def list_models(request: Request) -> Response:
    await _viewer(request)
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
            "door": r.door,
            "app": r.app,
            "region": r.region,
            "energy_wh": r.energy_wh,
            "energy_cost": r.energy_cost,
            "attempts": [msgspec.structs.asdict(a) for a in r.attempts],
        }
    }


async def generation(request: Request) -> Response:
    viewer = await _viewer(request)
    gen_id = request.query_params.get("id")
    if not gen_id:
        raise BadRequest("Query parameter `id` is required, e.g. ?id=gen-...", param="id")
    record = await _state(request).ledger.get(gen_id)
    # Another key's generation is reported exactly like a missing one.
    if record is None or not viewer.owns(record.key_id):
        raise NotFound(f"No generation with id '{gen_id}'.")
    return _json(generation_json(record))


async def economics(request: Request) -> Response:
    await _viewer(request)
    return await economics_endpoint(request)


async def healthz(request: Request) -> Response:
    st = _state(request)
    if st.settings.require_keys:
        # Load balancers probe without a key: liveness only, no providers or addresses.
        return _json({"status": "ok", "uptime_s": round(time.monotonic() - st.started, 1)})
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


class _Feedback(msgspec.Struct, forbid_unknown_fields=True):
    score: float
    id: str | None = None
    prompt: str | None = None
    model: str | None = None


async def feedback(request: Request) -> Response:
    """Teach the auto router: a score in [0, 1] for a generation (or a prompt and model)."""
    viewer = await _viewer(request)
    st = _state(request)
    if st.auto is None:
        raise BadRequest("Feedback trains the auto router, which is not configured here.")
    try:
        fb = msgspec.json.decode(await _read_body(request, 1_000_000), type=_Feedback)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Invalid feedback: {exc}") from exc
    direct = fb.prompt is not None and fb.model is not None
    await admit_feedback(
        viewer,
        fb.id,
        direct,
        st.ledger.get,
        st.admission.limiter,
        st.settings.auto.feedback_per_key_per_minute,
    )
    corrected = st.auto.learn(fb.id, fb.score, fb.prompt, fb.model, viewer.key_id)
    return _json({"data": {"learned": True, "prediction_error": round(corrected, 6)}})


def door_endpoints(state: State) -> dict[str, Endpoint]:
    """Each front door's POST path (and OpenRouter's `/api/v1/...` spelling of it)."""
    doors: dict[str, FrontDoor[Any]] = {
        "/v1/chat/completions": ChatDoor(),
        "/v1/messages": MessagesDoor(state.gateway.counter),
        "/v1/responses": ResponsesDoor(state.responses, state.settings.responses_ttl_s),
        "/v1/completions": CompletionsDoor(),
    }
    endpoints: dict[str, Endpoint] = {p: DoorEndpoint(state, d) for p, d in doors.items()}
    endpoints["/v1/embeddings"] = EmbeddingsEndpoint(state)
    return endpoints | {"/api" + path: ep for path, ep in endpoints.items()}


class TokenportApp:
    """Routes the front doors' POSTs to the bare hot path, everything else to Starlette."""

    def __init__(self, starlette: Starlette, doors: dict[str, Endpoint]) -> None:
        self.starlette = starlette
        self.doors = doors

    @property
    def state(self) -> StarletteState:
        return self.starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            door = self.doors.get(scope["path"])
            if door is not None:
                await door(scope, receive, send)
                return
        await self.starlette(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    local_base_url: str | None = None,
    catalog: Catalog | None = None,
    env: Mapping[str, str] | None = None,
) -> TokenportApp:
    env = os.environ if env is None else env
    settings = settings or load_settings(env=env)
    local_base_url = local_base_url or env.get(LOCAL_URL_ENV)
    state = build_state(settings, env, local_base_url, catalog)
    admin_key = admin_key_from(env, settings.admin_key_env)
    access = Access(
        lambda: state.admission,
        admin_key,
        require_keys=settings.require_keys,
        public_rankings=settings.public_rankings,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.ledger.start()
        # Analytics' narrow rollup tables (idempotent; `serve` already ran it before workers).
        await asyncio.to_thread(rollups.ensure, settings.ledger_url())
        state.admission.start()
        try:
            yield
        finally:
            await state.gateway.aclose()
            await state.ledger.stop()
            await state.admission.aclose()
            await asyncio.to_thread(state.responses.close)

    app = Starlette(
        routes=[
            HttpRoute("/v1/models", list_models, methods=["GET"]),
            HttpRoute("/api/v1/models", list_models, methods=["GET"]),
            HttpRoute("/api/v1/generation", generation, methods=["GET"]),
            HttpRoute("/healthz", healthz, methods=["GET"]),
            HttpRoute("/api/v1/economics", economics, methods=["GET"]),
            HttpRoute("/api/v1/feedback", feedback, methods=["POST"]),
            *admin_routes(lambda: state.admission, admin_key),
            *analytics_routes(lambda: state),
            *surface_routes(lambda: state),
            *responses_routes(lambda: state),
            *abuse_routes(lambda: state),
        ],
        exception_handlers={
            TokenportError: handle_tokenport_error,
            404: not_found,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.tp = state
    app.state.economics = economics_of(settings)  # read by /api/v1/economics
    app.state.access = access
    return TokenportApp(app, door_endpoints(state))


def app_factory() -> TokenportApp:
    """Entry for `uvicorn --factory` in each worker process."""
    return create_app()
