"""`GET /api/v1/economics`: the `tokenport costs` command over HTTP.

Query parameters mirror the CLI flags (`model`, `gpu`, `region`, `gpus`, `batch`, `load`,
`all_regions`, and the overrides). A bad or unknown parameter is a 400 that names it and,
where the set is closed, lists the allowed values. The gateway hands `routes` its
`Economics` (the shipped data with the config's overrides).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.economics.costmodel import Deployment, compare_regions, marginal_cost_per_mtok
from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import number
from tokenport.economics.settings import Economics

# query parameter -> Deployment field, for the plain numeric overrides
NUMERIC = {
    "usd_per_kwh": "usd_per_kwh",
    "pue": "pue",
    "utilization": "utilization",
    "host_overhead": "host_overhead",
    "capex": "capex_usd_per_gpu",
    "years": "amortization_years",
    "rental": "rental_usd_per_gpu_hour",
    "other_per_gpu_hour": "other_usd_per_gpu_hour",
}
TEXT = ("model", "gpu", "region", "task", "hardware")
PARAMS = (*TEXT, "gpus", "batch", "load", "all_regions", *NUMERIC)
TRUE, FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def routes(
    economics: Callable[[], Economics],
    authorize: Callable[[str | None], Awaitable[object]] | None = None,
) -> list[Route]:
    """`GET /api/v1/economics`. `authorize` (the Authorization header -> raise if refused)
    is the gateway's access rule; a bad input raises CostInputError, a 400 naming it."""

    async def endpoint(request: Request) -> Response:
        if authorize is not None:
            await authorize(request.headers.get("authorization"))
        body = cost_query(request.query_params, economics())
        return Response(msgspec.json.encode(body), media_type="application/json")

    return [Route("/api/v1/economics", endpoint, methods=["GET"])]


def cost_query(params: Mapping[str, str], econ: Economics) -> Any:
    """The response body for `params`: one cost breakdown, or `{"regions": [...]}`."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise CostInputError(unknown[0], "unknown query parameter", PARAMS)
    deployment = deployment_from(params)
    batch = _optional_number(params, "batch")
    load = _optional_number(params, "load")
    if _flag(params, "all_regions"):
        regions = compare_regions(deployment, batch_size=batch, load=load, economics=econ)
        return {"regions": regions}
    return marginal_cost_per_mtok(deployment, batch_size=batch, load=load, economics=econ)


def deployment_from(params: Mapping[str, str]) -> Deployment:
    if not params.get("model"):
        raise CostInputError("model", "required, e.g. model=Llama-3.1-70B")
    fields: dict[str, Any] = {key: params[key] for key in TEXT if params.get(key)}
    if "hardware" in fields and fields["hardware"] not in ("capex", "rental"):
        raise CostInputError(
            "hardware", f"unknown basis {fields['hardware']!r}", ["capex", "rental"]
        )
    for key, field in NUMERIC.items():
        fields[field] = _optional_number(params, key)
    if params.get("gpus"):
        gpus = number("gpus", params["gpus"])
        if gpus != int(gpus) or gpus < 1:
            raise CostInputError("gpus", f"expected a whole number of GPUs, got {params['gpus']!r}")
        fields["gpu_count"] = int(gpus)
    return Deployment(**fields)


def _optional_number(params: Mapping[str, str], key: str) -> float | None:
    value = params.get(key)
    return None if value in (None, "") else number(key, value)


def _flag(params: Mapping[str, str], key: str) -> bool:
    value = params.get(key, "").lower()
    if value not in TRUE + FALSE:
        raise CostInputError(key, f"expected a boolean, got {value!r}", ["true", "false"])
    return value in TRUE
