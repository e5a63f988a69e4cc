"""The abuse defense over HTTP, admin only (security/abuse):

    GET  /api/v1/abuse[?since=&until=&detail=1]   the scan: {"accounts": [...], "clusters": [...]}
    GET  /api/v1/abuse/actions                     every action, newest first
    POST /api/v1/abuse/actions                     {"key_id", "action", "note"}: act by hand
    POST /api/v1/abuse/actions/{id}/reverse        {"note"}: reverse an action (or a key's)
    GET  /dashboard/abuse                          the page: flagged networks and evidence

The admin key is required even on an open gateway: the answers name keys and addresses.
A browser signs in with HTTP Basic (the admin key as password), as on the dashboard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tokenport.analytics.api import DASHBOARD_DIR, SECURITY_HEADERS
from tokenport.api.state import State
from tokenport.errors import BadRequest, Forbidden, Unauthorized
from tokenport.security.access import BASIC_CHALLENGE, Access

if TYPE_CHECKING:
    from tokenport.abusescan.action_log import ActionLog

_encoder = msgspec.json.Encoder()
Handler = Callable[[Request], Awaitable[Response]]


class _Act(msgspec.Struct, forbid_unknown_fields=True):
    key_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    action: Literal["flag", "throttle", "review", "block"]
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class _Reverse(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


def _json(obj: object, status: int = 200) -> Response:
    return Response(_encoder.encode(obj), status_code=status, media_type="application/json")


async def _admin(access: Access, request: Request) -> None:
    try:
        viewer = await access.viewer(request.headers.get("authorization"))
    except Unauthorized as exc:  # a browser then asks for the key, and sends it again
        raise Unauthorized(exc.message, challenge=BASIC_CHALLENGE) from None
    if viewer.role != "admin":
        raise Forbidden(
            "The abuse API needs the admin key (set TOKENPORT_ADMIN_KEY, or the variable "
            "admin_key_env names, and send it as the Bearer token)."
        )


async def _body(request: Request, kind: type[msgspec.Struct]) -> msgspec.Struct:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw or b"{}", type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Invalid request body: {exc}") from exc


def routes(get_state: Callable[[], State]) -> list[Route]:
    def guarded(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            await _admin(get_state().access, request)
            return await handler(request)

        return wrapped

    async def report(request: Request) -> Response:
        # The batch scanner loads when an admin first asks for a scan, not in every
        # gateway process (tests/api/test_app_footprint.py).
        from tokenport.abusescan.report import public
        from tokenport.abusescan.scan import scan
        from tokenport.abusescan.when import parse_when

        st = get_state()
        since = parse_when(request.query_params.get("since"), "since")
        until = parse_when(request.query_params.get("until"), "until")
        detail = request.query_params.get("detail") in ("1", "true")
        found = await asyncio.to_thread(
            scan, st.settings.ledger_url(), since, until, threshold=st.settings.abuse.threshold
        )
        return _json(public(found, detail))

    def store() -> ActionLog:
        from tokenport.abusescan.action_log import ActionLog  # the scan wing's, as above

        return ActionLog(get_state().settings.ledger_url())

    async def list_actions(request: Request) -> Response:
        s = store()
        try:
            found = await asyncio.to_thread(s.all)
        finally:
            s.close()
        return _json({"data": [msgspec.structs.asdict(a) for a in found]})

    async def act(request: Request) -> Response:
        body = await _body(request, _Act)
        assert isinstance(body, _Act)
        s = store()
        try:
            done = await asyncio.to_thread(
                s.record,
                body.key_id,
                body.action,
                1.0,
                None,
                [body.note or "by hand"],
                "admin",
                body.note,
            )
        finally:
            s.close()
        await _reload(get_state())
        return _json({"data": msgspec.structs.asdict(done)}, 201)

    async def reverse(request: Request) -> Response:
        body = await _body(request, _Reverse)
        assert isinstance(body, _Reverse)
        s = store()
        try:
            done = await asyncio.to_thread(
                s.reverse, request.path_params["ident"], "admin", body.note
            )
        finally:
            s.close()
        await _reload(get_state())
        return _json({"data": [msgspec.structs.asdict(a) for a in done]})

    async def page(request: Request) -> Response:
        try:
            await _admin(get_state().access, request)
        except (Forbidden, Unauthorized):
            html = "<!doctype html><title>tokenport</title><p>" + _ADMIN_NEEDED + "</p>"
            headers = {"WWW-Authenticate": BASIC_CHALLENGE, **SECURITY_HEADERS}
            return HTMLResponse(html, status_code=401, headers=headers)
        text = (DASHBOARD_DIR / "abuse.html").read_text(encoding="utf-8")
        return HTMLResponse(
            text.replace("__ROOT__", request.scope.get("root_path", "")), headers=SECURITY_HEADERS
        )

    return [
        Route("/api/v1/abuse", guarded(report), methods=["GET"]),
        Route("/api/v1/abuse/actions", guarded(list_actions), methods=["GET"]),
        Route("/api/v1/abuse/actions", guarded(act), methods=["POST"]),
        Route("/api/v1/abuse/actions/{ident}/reverse", guarded(reverse), methods=["POST"]),
        Route("/dashboard/abuse", page, methods=["GET"]),
    ]


async def _reload(st: State) -> None:
    if st.admission.abuse is not None:
        await st.admission.abuse.reload()


_ADMIN_NEEDED = (
    "The abuse page needs the admin key. Your browser asks for it: any user name, and the "
    "admin key as the password."
)
