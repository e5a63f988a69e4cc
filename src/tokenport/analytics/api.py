"""HTTP: `GET /api/v1/rankings`, the `/dashboard` page and its static files.

The app mounts `routes(get_state)`; `get_state()` returns the gateway's `State` (anything with
`.settings.ledger_url()` and `.catalog`). Reads are blocking database calls, so they run in a
worker thread. A bad parameter is a 400 naming it and listing the allowed values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tokenport.analytics.service import ParamError, compute, parse_query
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog
from tokenport.errors import ServiceUnavailable

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
DASHBOARD_DIR = HERE / "dashboard"
_JSON = "application/json"
_encoder = msgspec.json.Encoder()


class _Settings(Protocol):
    def ledger_url(self) -> str: ...


class StateLike(Protocol):
    @property
    def settings(self) -> _Settings: ...
    @property
    def catalog(self) -> Catalog: ...


class Analytics:
    """The endpoints, with one `RollupSource` per ledger URL kept open between requests."""

    def __init__(self, get_state: Callable[[], StateLike]) -> None:
        self._get_state = get_state
        self._source: RollupSource | None = None

    def source(self) -> RollupSource:
        url = self._get_state().settings.ledger_url()
        if self._source is None or self._source.url != url:
            self.close()
            self._source = RollupSource(url)
        return self._source

    async def rankings(self, request: Request) -> Response:
        try:
            query = parse_query(request.query_params)
        except ParamError as exc:
            return Response(_encoder.encode(exc.payload()), status_code=400, media_type=_JSON)
        catalog = self._get_state().catalog
        try:
            result = await run_in_threadpool(compute, query, self.source(), catalog)
        except ServiceUnavailable as exc:
            body = {"error": {"message": exc.message, "type": exc.type, "code": exc.code}}
            return Response(_encoder.encode(body), status_code=503, media_type=_JSON)
        return Response(_encoder.encode(result), media_type=_JSON)

    async def dashboard(self, request: Request) -> Response:
        html = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
        # Links are absolute; a reverse proxy's path prefix (root_path) goes in front.
        return HTMLResponse(html.replace("__ROOT__", request.scope.get("root_path", "")))

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


def routes(get_state: Callable[[], StateLike]) -> list[BaseRoute]:
    """What the gateway mounts: the JSON API, the page, and its files (all GET)."""
    analytics = Analytics(get_state)
    return [
        Route("/api/v1/rankings", analytics.rankings, methods=["GET"]),
        Route("/dashboard", analytics.dashboard, methods=["GET"]),
        Route("/dashboard/", analytics.dashboard, methods=["GET"]),
        Mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="analytics-static"),
        Mount("/dashboard/app", StaticFiles(directory=DASHBOARD_DIR), name="analytics-app"),
    ]


def _from_request(request: Request) -> Analytics:
    state = request.app.state
    found = getattr(state, "analytics", None)
    if not isinstance(found, Analytics):
        found = Analytics(lambda: request.app.state.tp)
        state.analytics = found
    return found


async def rankings_endpoint(request: Request) -> Response:
    """`GET /api/v1/rankings` for an app that mounts single handlers (reads `app.state.tp`)."""
    return await _from_request(request).rankings(request)


async def dashboard(request: Request) -> Response:
    """`GET /dashboard` for an app that mounts single handlers."""
    return await _from_request(request).dashboard(request)
