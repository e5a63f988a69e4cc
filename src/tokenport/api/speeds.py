"""`GET /api/v1/route-speeds`: each route's speed as tokenport measured it (`routing.speed`).

Rolling p50/p75/p90/p99 time to first token (ms) and output tokens per second over each
route's last answers, from this gateway's own traffic (every replica's, with Redis). The
dashboard's route-speed table reads it. Like `/healthz`, it names routes and figures only,
no keys and no spend, so it needs no key.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.http import json_response
from tokenport.api.state import State


def routes(state: Callable[[], State]) -> list[Route]:
    async def route_speeds(request: Request) -> Response:
        router = state().router
        speeds = router.speeds()
        data = [
            {
                "route": key,
                "provider": key.split("/", 1)[0],
                "samples": s.samples,
                "ttft_ms": s.ttft_ms,
                "throughput": s.throughput,
            }
            for key, s in sorted(speeds.items())
        ]
        return json_response({"data": data, "window": router.health.speed.window})

    return [Route("/api/v1/route-speeds", route_speeds, methods=["GET"])]
