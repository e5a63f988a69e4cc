"""OpenRouter's read endpoints beside the model list and generations (`api/info.py`):
`/api/v1/credits`, `/api/v1/key`, `/api/v1/providers`, `/api/v1/models/count`,
`/api/v1/models/user`, `/api/v1/embeddings/models`, `/api/v1/models/{author}/{slug}/endpoints`
and `/api/v1/model/{author}/{slug}`.

They are registered before `api/surface.py`'s `/api/v1/models/{id:path}`, which would
otherwise answer `count` and `.../endpoints` as model ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.http import json_response
from tokenport.api.models import model_entry_json, model_list_json
from tokenport.api.openrouter.catalog import (
    UNMEASURED,
    EndpointPerf,
    Percentiles,
    canonical_slug,
    endpoint_json,
    endpoints_json,
)
from tokenport.api.openrouter.records import KeyUsage, credits_json, key_json
from tokenport.api.state import State
from tokenport.catalog.model import ModelEntry
from tokenport.errors import NotFound, Unauthorized
from tokenport.ledger.writer import Ledger
from tokenport.routing.speed import RouteSpeed
from tokenport.security.keys import ApiKey
from tokenport.values import Percentiles as SpeedPercentiles

DAY = 86400.0


def month_week_day(now: float) -> tuple[float, float, float]:
    """The starts (Unix seconds) of the current UTC month, week (Monday) and day."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    week = today - timedelta(days=today.weekday())
    return month.timestamp(), week.timestamp(), today.timestamp()


async def key_usages(ledger: Ledger, key_ids: list[str] | None = None) -> dict[str, KeyUsage]:
    """Each key's spend this UTC day, week and month, from the ledger's daily rollups (one
    query for every key; `key_ids` narrows it to one key)."""
    now = time.time()
    month, week, day = month_week_day(now)
    one = key_ids[0] if key_ids is not None and len(key_ids) == 1 else None
    rows = await ledger.usage_report(month, now + 1, ("day", "key_id"), key_id=one)
    spent: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.key_id is not None:
            spent.setdefault(r.key_id, []).append((r.bucket or 0, r.cost))
    return {
        key: KeyUsage(
            daily=sum(c for b, c in days if b >= day),
            weekly=sum(c for b, c in days if b >= week),
            monthly=sum(c for _, c in days),
        )
        for key, days in spent.items()
    }


def model_group(st: State, author: str, slug: str) -> list[ModelEntry]:
    """Every catalog entry serving `author/slug`: by canonical slug (author and slug), or a
    tokenport id (`provider/upstream_id`) and the entries sharing its canonical slug."""
    wanted = f"{author}/{slug}"
    group = [e for e in st.catalog.entries() if canonical_slug(e) == wanted]
    if not group:
        entry = st.catalog.get(wanted)
        if entry is not None:
            canon = canonical_slug(entry)
            group = [e for e in st.catalog.entries() if canonical_slug(e) == canon]
    if not group:
        raise NotFound(
            f"No model '{wanted}' in the catalog. GET /api/v1/models lists every model "
            "(its `canonical_slug` is the author/slug these paths take)."
        )
    return group


def routes(state: Callable[[], State]) -> list[Route]:
    async def calling_key(request: Request) -> ApiKey:
        st = state()
        key = await st.admission.authenticate(request.headers.get("authorization"))
        if key is None:
            raise Unauthorized("Send a tokenport key: `Authorization: Bearer tp-...`.")
        return await asyncio.to_thread(st.admission.keys.get, key.id)

    async def current_key(request: Request) -> Response:
        key = await calling_key(request)
        spent = await key_usages(state().ledger, [key.id])
        return json_response({"data": key_json(key, spent.get(key.id, KeyUsage()))})

    async def credits(request: Request) -> Response:
        return json_response(credits_json(await calling_key(request)))

    async def providers(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        data = [
            {
                "name": spec.display_name or name,
                "slug": name,
                "privacy_policy_url": None,
                "terms_of_service_url": None,
                "status_page_url": None,
                "headquarters": None,
                "datacenters": None,
                "region": spec.region,
                "configured": name in st.registry.providers,
            }
            for name, spec in sorted(st.registry.specs.items())
        ]
        return json_response({"data": data})

    async def count(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        return json_response({"data": {"count": len(st.catalog)}})

    async def user_models(request: Request) -> Response:
        """The models this gateway can serve now (OpenRouter: filtered by the user's
        provider preferences; here, by the providers configured with a key)."""
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        served = [e for e in st.catalog.entries() if e.provider in st.registry.providers]
        return json_response(model_list_json(served, st.registry))

    async def embedding_models(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        return json_response(model_list_json(st.embedding_catalog.entries(), st.registry))

    async def endpoints(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        group = model_group(st, request.path_params["author"], request.path_params["slug"])
        health = st.gateway.health
        listed = [
            endpoint_json(
                e,
                st.registry.specs.get(e.provider),
                health.available(e.provider),
                perf_of(st.router.speed(e.id)),
            )
            for e in group
            if e.provider in st.registry.providers
        ]
        return json_response(endpoints_json(group, listed))

    async def model(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        group = model_group(st, request.path_params["author"], request.path_params["slug"])
        served = [e for e in group if e.provider in st.registry.providers]
        return json_response({"data": model_entry_json((served or group)[0], st.registry)})

    return [
        Route("/api/v1/key", current_key, methods=["GET"]),
        Route("/api/v1/credits", credits, methods=["GET"]),
        Route("/api/v1/providers", providers, methods=["GET"]),
        Route("/api/v1/models/count", count, methods=["GET"]),
        Route("/api/v1/models/user", user_models, methods=["GET"]),
        Route("/api/v1/embeddings/models", embedding_models, methods=["GET"]),
        Route("/api/v1/models/{author}/{slug}/endpoints", endpoints, methods=["GET"]),
        Route("/api/v1/model/{author}/{slug}", model, methods=["GET"]),
    ]


def perf_of(speed: RouteSpeed | None) -> EndpointPerf:
    """The routing layer's rolling figures (`routing/speed.py`) as OpenRouter shows them:
    its SDKs take all four percentiles or none, so a figure missing one is left null."""
    if speed is None:
        return UNMEASURED
    return EndpointPerf(latency=_four(speed.ttft_ms), throughput=_four(speed.throughput))


def _four(p: SpeedPercentiles | None) -> Percentiles | None:
    if p is None or None in (p.p50, p.p75, p.p90, p.p99):
        return None
    return Percentiles(p50=p.p50, p75=p.p75, p90=p.p90, p99=p.p99)  # type: ignore[arg-type]
