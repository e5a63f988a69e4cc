"""Key management over HTTP, OpenRouter's shape: `GET/POST /api/v1/keys`,
`GET/PATCH/DELETE /api/v1/keys/{id}` (and tokenport's revoke and top-up), for the gateway's
admin key or a workspace's management key (`security/principal.py`), through the one path
the CLI uses too (`security/manage.py`). A key's owner reads it at `GET /api/v1/key`
(`api/openrouter/routes.py`, in OpenRouter's shape)."""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.http import json_response, read_json
from tokenport.api.openrouter.records import KeyUsage, key_record_json
from tokenport.errors import BadRequest, Forbidden
from tokenport.security.admission import Admission, bearer
from tokenport.security.clientip import client_ip
from tokenport.security.keys import KEY_PREFIX, MAX_CREDIT_USD, ApiKey
from tokenport.security.manage import KeyPatch, KeySpec, Manager, key_json
from tokenport.security.principal import ADMIN, Principal, management_principal

_encoder = msgspec.json.Encoder()
Handler = Callable[[Request], Awaitable[Response]]


CreateKey = KeySpec  # the OpenAPI document's name for the body


class TopUp(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[float, msgspec.Meta(gt=0, le=MAX_CREDIT_USD)]


class KeyOrigin(msgspec.Struct, frozen=True):
    ip: str
    created_at: float | None  # a simulated creation time, or None for now


def key_origin(request: Request) -> KeyOrigin:
    """Where a key-creating call came from, and, under `simulation = true`, the simulated
    time it claims (`X-Tokenport-Sim-Time`), so keys age on the traffic's clock."""
    settings = getattr(getattr(request.app.state, "tp", None), "settings", None)
    trusted = settings.trusted_proxies if settings is not None else []
    ip = client_ip(request.scope, {k.lower(): v for k, v in request.headers.items()}, trusted)
    sim = request.headers.get("x-tokenport-sim-time")
    if sim is None or settings is None or not settings.simulation:
        return KeyOrigin(ip, None)
    try:
        at = float(sim)
    except ValueError:
        at = math.nan
    if not 0 < at < 2**40:  # also refuses nan and inf
        raise BadRequest("X-Tokenport-Sim-Time must be Unix seconds.")
    return KeyOrigin(ip, at)


async def principal_of(
    request: Request, adm: Admission, manager: Manager, admin_key: str | None
) -> Principal:
    """The gateway admin (its admin key) or a management key's principal; 401/403 else."""
    authorization = request.headers.get("authorization")
    token = bearer(authorization) or ""
    if admin_key is not None and hmac.compare_digest(token.encode(), admin_key.encode()):
        return ADMIN
    if token.startswith(KEY_PREFIX):
        key = await adm.authenticate(authorization)
        if key is not None:
            role = await asyncio.to_thread(manager.member_role, key.member_id)
            return management_principal(key, role)
    if admin_key is None:
        raise Forbidden(
            "The admin API is disabled: set the admin key's environment "
            "variable (TOKENPORT_ADMIN_KEY by default) and restart, or use a management key."
        )
    raise Forbidden("This endpoint needs the admin key or a management key.")


KeyUsages = Callable[[], Awaitable[dict[str, KeyUsage]]]
# What the company's budgets decide about a key; OpenRouter's record fills in the rest.
_BUDGET_FIELDS = frozenset(
    {"limit", "limit_remaining", "limit_reset", "include_byok_in_limit", "workspace_id"}
)


def admin_routes(
    admission: Callable[[], Admission], admin_key: str | None, usages: KeyUsages | None = None
) -> list[Route]:
    async def records(keys: list[ApiKey], m: Manager) -> list[dict[str, Any]]:
        """Each key as tokenport shows it, with OpenRouter's key record over it (its types:
        ISO times, spend per UTC day, week and month) except what the budgets decide."""
        views = await asyncio.to_thread(m.key_limits, keys)
        spent = await usages() if usages is not None else {}
        out = []
        for k in keys:
            mine = key_json(k, views.get(k.id))
            theirs = key_record_json(k, spent.get(k.id, KeyUsage()))
            out.append(mine | {f: v for f, v in theirs.items() if f not in _BUDGET_FIELDS})
        return out

    def guard(handler: Callable[[Request, Principal, Manager], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            adm = admission()
            manager = Manager(adm.keys)
            who = await principal_of(request, adm, manager, admin_key)
            return await handler(request, who, manager)

        return wrapped

    async def create(request: Request, who: Principal, m: Manager) -> Response:
        body: KeySpec = await read_json(request, KeySpec)
        origin = key_origin(request)
        new = await asyncio.to_thread(
            m.create_key,
            who,
            body,
            created_at=origin.created_at,
            created_via="POST /api/v1/keys",
            created_ip=origin.ip,
        )
        await _changed(admission(), body.limit_reset is not None)
        [data] = await records([new.key], m)
        return json_response({"data": data, "key": new.secret}, 201)

    async def list_keys(request: Request, who: Principal, m: Manager) -> Response:
        ws = request.query_params.get("workspace_id")
        keys = await asyncio.to_thread(m.list_keys, who, ws)
        return json_response({"data": await records(keys, m)})

    async def get_key(request: Request, who: Principal, m: Manager) -> Response:
        key = await asyncio.to_thread(m.get_key, who, request.path_params["key_id"])
        [data] = await records([key], m)
        return json_response({"data": data})

    async def patch_key(request: Request, who: Principal, m: Manager) -> Response:
        body: KeyPatch = await read_json(request, KeyPatch)
        key = await asyncio.to_thread(m.update_key, who, request.path_params["key_id"], body)
        await _changed(admission(), True)
        [data] = await records([key], m)
        return json_response({"data": data})

    async def delete_key(request: Request, who: Principal, m: Manager) -> Response:
        await asyncio.to_thread(m.delete_key, who, request.path_params["key_id"])
        await _changed(admission(), True)
        return json_response({"data": {"success": True}})

    async def revoke(request: Request, who: Principal, m: Manager) -> Response:
        key = await asyncio.to_thread(m.revoke_key, who, request.path_params["key_id"])
        admission().forget()
        return json_response({"data": key_json(key)})

    async def top_up(request: Request, who: Principal, m: Manager) -> Response:
        body: TopUp = await read_json(request, TopUp)
        key = await asyncio.to_thread(m.top_up, who, request.path_params["key_id"], body.amount)
        admission().forget()
        return json_response({"data": key_json(key)})

    return [
        Route("/api/v1/keys", guard(create), methods=["POST"]),
        Route("/api/v1/keys", guard(list_keys), methods=["GET"]),
        Route("/api/v1/keys/{key_id}", guard(get_key), methods=["GET"]),
        Route("/api/v1/keys/{key_id}", guard(patch_key), methods=["PATCH"]),
        Route("/api/v1/keys/{key_id}", guard(delete_key), methods=["DELETE"]),
        Route("/api/v1/keys/{key_id}/revoke", guard(revoke), methods=["POST"]),
        Route("/api/v1/keys/{key_id}/top-up", guard(top_up), methods=["POST"]),
    ]


async def _changed(adm: Admission, budgets: bool) -> None:
    """After an edit through this process: forget cached keys, reload budgets at once."""
    adm.forget()
    if budgets and adm.budgets is not None:
        await adm.budgets.reload()


def admin_key_from(env: Mapping[str, str], var: str) -> str | None:
    value = env.get(var, "").strip()
    return value or None
