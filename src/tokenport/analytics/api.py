"""HTTP: `GET /api/v1/rankings`, the `/dashboard` page and its static files.

The app mounts `routes(get_state)`; `get_state()` returns the gateway's `State` (anything with
`.settings.ledger_url()` and `.catalog`). Reads are blocking database calls, so they run in a
worker thread. A bad parameter is a 400 naming it and listing the allowed values.

Who may read what is `security/access.py`'s rule, the state's `access` (a state without
one, such as a test harness's, is open). Without a key where keys are required, the
answer is a 401 with a Basic challenge, so a browser asks for the key (as the password)
and then sends it with the dashboard's own API calls. Sections the caller may not read are
left out, or refused with 403 when asked for by name. The page and its files carry a
Content-Security-Policy that allows only this origin, and may not be framed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenport.catalog.store import Catalog
from tokenport.errors import Forbidden, Unauthorized
from tokenport.security.access import BASIC_CHALLENGE, Access

if TYPE_CHECKING:
    # Loaded on the first GET /api/v1/rankings (`Analytics.source`), not by every gateway
    # process: most never serve rankings (tests/api/test_app_footprint.py).
    from tokenport.analytics.service import Query
    from tokenport.analytics.source import RollupSource

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
DASHBOARD_DIR = HERE / "dashboard"
_JSON = "application/json"
_encoder = msgspec.json.Encoder()
# The page loads only its own scripts, styles and API; nothing inline, nothing framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecureHeaders:
    """Adds `SECURITY_HEADERS` to every response of the wrapped app (the static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


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
        from tokenport.analytics.source import RollupSource

        url = self._get_state().settings.ledger_url()
        if self._source is None or self._source.url != url:
            self.close()
            self._source = RollupSource(url)
        return self._source

    async def rankings(self, request: Request) -> Response:
        from tokenport.analytics.service import compute, parse_query

        # Errors (a bad parameter, no key, a section refused, the database down) are raised
        # and answered at the one boundary, api/errors.py.
        query = parse_query(request.query_params)
        access = _access(self._get_state())
        limited = False
        if access is not None:
            allowed = await _allowed(access, request, query)
            limited = allowed != query.by
            query = msgspec.structs.replace(query, by=allowed)
        catalog = self._get_state().catalog
        result = await run_in_threadpool(compute, query, self.source(), catalog)
        # Sections were left out for this caller: the dashboard then offers to sign in.
        headers = {"X-Tokenport-Limited": "1"} if limited else None
        return Response(_encoder.encode(result), media_type=_JSON, headers=headers)

    async def dashboard(self, request: Request) -> Response:
        access = _access(self._get_state())
        if access is not None:
            # ?login=1 asks the browser for a key even where public sections would show
            # without one: the way in to the full view.
            public = not request.query_params.get("login")
            try:
                await access.viewer(request.headers.get("authorization"), public=public)
            except Unauthorized:
                page = "<!doctype html><title>tokenport</title><p>" + _KEY_NEEDED + "</p>"
                headers = {"WWW-Authenticate": BASIC_CHALLENGE, **SECURITY_HEADERS}
                return HTMLResponse(page, status_code=401, headers=headers)
        html = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
        # Links are absolute; a reverse proxy's path prefix (root_path) goes in front.
        page = html.replace("__ROOT__", request.scope.get("root_path", ""))
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


_KEY_NEEDED = (
    "This dashboard needs a tokenport key. Your browser asks for it: any user name, and the "
    "key (or the admin key) as the password."
)


def _access(state: StateLike) -> Access | None:
    found = getattr(state, "access", None)
    return found if isinstance(found, Access) else None


async def _allowed(access: Access, request: Request, query: Query) -> tuple[str, ...]:
    """The sections of `query` the caller may read; 401 (asking a browser for the key) or
    403 (naming the public sections) instead."""
    try:
        viewer = await access.viewer(request.headers.get("authorization"), public=True)
    except Unauthorized as exc:
        raise Unauthorized(exc.message, challenge=BASIC_CHALLENGE) from exc
    allowed = access.rankings_sections(viewer, query.by)
    named = bool(request.query_params.get("by", "").strip())
    denied = [s for s in query.by if s not in allowed]
    if denied and (named or not allowed):
        public = sorted(access.public_rankings)
        raise Forbidden(
            f"This caller may not read the {', '.join(denied)} rankings. "
            f"Public sections: {', '.join(public) or 'none'}; the admin key reads all. "
            "A key's own usage and spend: GET /api/v1/key.",
            param="by",
            allowed=public,
        )
    return allowed


def routes(get_state: Callable[[], StateLike]) -> list[BaseRoute]:
    """What the gateway mounts: the JSON API, the page, and its files (all GET)."""
    analytics = Analytics(get_state)
    static = SecureHeaders(StaticFiles(directory=STATIC_DIR))
    app_files = SecureHeaders(StaticFiles(directory=DASHBOARD_DIR))
    return [
        Route("/api/v1/rankings", analytics.rankings, methods=["GET"]),
        Route("/dashboard", analytics.dashboard, methods=["GET"]),
        Route("/dashboard/", analytics.dashboard, methods=["GET"]),
        Mount("/dashboard/static", static, name="analytics-static"),
        Mount("/dashboard/app", app_files, name="analytics-app"),
    ]
