"""The ASGI app: the front doors' hot path (`api/edge.py`) in front of Starlette for the rest.

Every area exports its routes the same way, `routes(get_state)`, and every error is
answered by the handlers of `api/errors.py`. This module only assembles them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State as StarletteState
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router

from tokenport.analytics import rollups
from tokenport.analytics.api import routes as analytics_routes
from tokenport.api import info, surface
from tokenport.api.abuse import routes as abuse_routes
from tokenport.api.admin import admin_routes
from tokenport.api.company import routes as company_routes
from tokenport.api.completions import CompletionsDoor
from tokenport.api.door import FrontDoor
from tokenport.api.doors import ChatDoor, MessagesDoor
from tokenport.api.edge import DoorEndpoint, Endpoint, Receive, Scope, Send
from tokenport.api.embeddings import EmbeddingsEndpoint
from tokenport.api.errors import EXCEPTION_HANDLERS, error_response, openrouter_payload
from tokenport.api.gemini import PREFIXES as GEMINI_PREFIXES
from tokenport.api.gemini import GeminiEndpoint, wants_gemini
from tokenport.api.gemini import routes as gemini_routes
from tokenport.api.openrouter.door import OpenRouterDoor
from tokenport.api.openrouter.routes import key_usages
from tokenport.api.openrouter.routes import routes as openrouter_routes
from tokenport.api.operations import Gauges
from tokenport.api.operations import routes as operations_routes
from tokenport.api.responses import ResponsesDoor
from tokenport.api.responses import routes as responses_routes
from tokenport.api.speeds import routes as speeds_routes
from tokenport.api.state import State, build_state
from tokenport.catalog.store import Catalog
from tokenport.config import Settings, load_settings
from tokenport.economics.api import routes as economics_routes
from tokenport.errors import NotFound

LOCAL_URL_ENV = "TOKENPORT_LOCAL_BASE_URL"


async def not_found(request: Request, exc: Exception) -> Response:
    path = request.url.path
    return error_response(NotFound(f"No route {request.method} {path}."), path)


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
    # OpenRouter's spelling answers errors in OpenRouter's body; Anthropic's Messages keeps
    # Anthropic's (its SDK parses that at /api/v1/messages too).
    openrouter: dict[str, Endpoint] = {
        "/api" + p: DoorEndpoint(state, d if d.name == "messages" else OpenRouterDoor(d))
        for p, d in doors.items()
    }
    openrouter["/api/v1/embeddings"] = EmbeddingsEndpoint(state, openrouter_payload)
    return endpoints | {"/api" + path: ep for path, ep in endpoints.items()} | openrouter


class TokenportApp:
    """Routes the front doors' POSTs to the bare hot path, everything else to Starlette."""

    def __init__(
        self,
        starlette: Starlette,
        doors: dict[str, Endpoint],
        prefixed: dict[str, Endpoint] | None = None,
        google_models: Endpoint | None = None,
    ) -> None:
        self.starlette = starlette
        self.doors = doors
        # Doors whose path carries the model (Gemini's `/v1beta/models/{model}:{action}`),
        # looked up only when no exact path matched.
        self.prefixed = tuple((prefixed or {}).items())
        # `GET /v1/models` in Google's shape for Google's clients (`api/gemini.py`).
        self.google_models = google_models

    @property
    def state(self) -> StarletteState:
        return self.starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            door = self.doors.get(path)
            if door is None:
                door = next((ep for p, ep in self.prefixed if path.startswith(p)), None)
            if door is not None:
                await door(scope, receive, send)
                return
        elif self.google_models is not None and wants_gemini(scope):
            await self.google_models(scope, receive, send)
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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.ledger.start()
        # Analytics' narrow rollup tables (idempotent; `serve` already ran it before workers).
        await asyncio.to_thread(rollups.ensure, settings.ledger_url())
        state.admission.start()
        gauges = Gauges(state)  # metrics' gauges, the metrics port, SIGTERM's drain
        gauges.start()
        state.router.start()  # route speed shared through Redis (routing/speed_share.py)
        try:
            yield
        finally:
            await gauges.stop()
            await state.router.aclose()
            await state.gateway.aclose()
            if state.refusals is not None:
                state.refusals.flush()  # the last second's aggregated refusals
            await state.ledger.stop()
            await state.admission.aclose()
            await asyncio.to_thread(state.responses.close)

    app = Starlette(
        routes=[
            *info.routes(lambda: state),
            *admin_routes(
                lambda: state.admission, state.admin_key, lambda: key_usages(state.ledger)
            ),
            *company_routes(lambda: state.admission, state.admin_key),
            *analytics_routes(lambda: state),
            *economics_routes(lambda: state.economics, state.access.viewer),
            *openrouter_routes(lambda: state),  # before surface's /api/v1/models/{id:path}
            *surface.routes(lambda: state),
            *responses_routes(lambda: state),
            *operations_routes(lambda: state),
            *abuse_routes(lambda: state),
            *speeds_routes(lambda: state),
            *gemini_routes(lambda: state),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, 404: not_found},
        lifespan=lifespan,
    )
    app.state.tp = state
    gemini = GeminiEndpoint(state)
    prefixed: dict[str, Endpoint] = {prefix: gemini for prefix in GEMINI_PREFIXES}
    google_models = Router(gemini_routes(lambda: state, "v1"))
    return TokenportApp(app, door_endpoints(state), prefixed, google_models)


def app_factory() -> TokenportApp:
    """Entry for `uvicorn --factory` in each worker process."""
    return create_app()
