"""Key management over HTTP (guarded by the admin key). A key's owner reads it at
`GET /api/v1/key` (`api/openrouter/routes.py`, in OpenRouter's shape)."""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.http import json_response, read_json
from tokenport.api.openrouter.records import KeyUsage, key_record_json
from tokenport.errors import BadRequest, Forbidden
from tokenport.security.admission import Admission, bearer
from tokenport.security.clientip import client_ip
from tokenport.security.keys import MAX_CREDIT_USD, key_json

_encoder = msgspec.json.Encoder()
Handler = Callable[[Request], Awaitable[Response]]


_Usd = Annotated[float, msgspec.Meta(ge=0, le=MAX_CREDIT_USD)]
_Rate = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]


class CreateKey(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    limit: _Usd | None = None
    allowed_models: list[Annotated[str, msgspec.Meta(max_length=200)]] | None = None
    rpm: _Rate | None = None
    tpm: _Rate | None = None
    expires_in_days: Annotated[float, msgspec.Meta(gt=0, le=36_500)] | None = None
    country: Annotated[str, msgspec.Meta(max_length=8)] | None = None


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


KeyUsages = Callable[[], Awaitable[dict[str, KeyUsage]]]


def admin_routes(
    admission: Callable[[], Admission], admin_key: str | None, usages: KeyUsages | None = None
) -> list[Route]:
    def guard(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            token = bearer(request.headers.get("authorization")) or ""
            if admin_key is None:
                raise Forbidden(
                    "The admin API is disabled: set the admin key's environment "
                    "variable (TOKENPORT_ADMIN_KEY by default) and restart."
                )
            if not hmac.compare_digest(token.encode(), admin_key.encode()):
                raise Forbidden("This endpoint needs the admin key.")
            return await handler(request)

        return wrapped

    async def create(request: Request) -> Response:
        body: CreateKey = await read_json(request, CreateKey)
        origin = key_origin(request)
        now = origin.created_at or time.time()
        expires = now + body.expires_in_days * 86400 if body.expires_in_days else None
        new = await asyncio.to_thread(
            admission().keys.create,
            body.name,
            credit_limit_usd=body.limit,
            allowed_models=body.allowed_models,
            rpm=body.rpm,
            tpm=body.tpm,
            expires_at=expires,
            country=body.country,
            created_at=origin.created_at,
            created_via="POST /api/v1/keys",
            created_ip=origin.ip,
        )
        return json_response({"data": key_json(new.key), "key": new.secret}, 201)

    async def list_keys(request: Request) -> Response:
        keys = await asyncio.to_thread(admission().keys.list)
        spent = await usages() if usages is not None else {}
        # tokenport's fields, and OpenRouter's key record (its SDKs' `apiKeys.list`).
        data = [key_json(k) | key_record_json(k, spent.get(k.id, KeyUsage())) for k in keys]
        return json_response({"data": data})

    async def revoke(request: Request) -> Response:
        key = await asyncio.to_thread(admission().keys.revoke, request.path_params["key_id"])
        admission().forget()
        return json_response({"data": key_json(key)})

    async def top_up(request: Request) -> Response:
        body: TopUp = await read_json(request, TopUp)
        current = await asyncio.to_thread(admission().keys.get, request.path_params["key_id"])
        if (current.limit_usd or 0.0) + body.amount > MAX_CREDIT_USD:
            raise BadRequest(
                f"A key's credit limit may not exceed ${MAX_CREDIT_USD:,.0f}.", param="amount"
            )
        key = await asyncio.to_thread(
            admission().keys.top_up, request.path_params["key_id"], body.amount
        )
        admission().forget()
        return json_response({"data": key_json(key)})

    return [
        Route("/api/v1/keys", guard(create), methods=["POST"]),
        Route("/api/v1/keys", guard(list_keys), methods=["GET"]),
        Route("/api/v1/keys/{key_id}/revoke", guard(revoke), methods=["POST"]),
        Route("/api/v1/keys/{key_id}/top-up", guard(top_up), methods=["POST"]),
    ]


def admin_key_from(env: Mapping[str, str], var: str) -> str | None:
    value = env.get(var, "").strip()
    return value or None
