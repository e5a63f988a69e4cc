"""The gateway's own read endpoints: the catalog (`/v1/models`), one past request
(`/api/v1/generation`), health (`/healthz`), and feedback for the `auto` router."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.http import JSON_TYPE, json_response, read_json
from tokenport.api.models import model_list_json
from tokenport.api.openrouter.records import generation_json
from tokenport.api.state import State
from tokenport.errors import BadRequest, NotFound
from tokenport.routing.auto.feedback import Feedback
from tokenport.security.feedback_policy import admit_feedback


def routes(state: Callable[[], State]) -> list[Route]:
    async def list_models(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        if request.query_params.get("available") in ("1", "true"):
            served = [e for e in st.catalog.entries() if e.provider in st.registry.providers]
            return json_response(model_list_json(served, st.registry))
        return Response(st.models_body, media_type=JSON_TYPE)

    async def generation(request: Request) -> Response:
        st = state()
        viewer = await st.access.viewer(request.headers.get("authorization"))
        gen_id = request.query_params.get("id")
        if not gen_id:
            raise BadRequest("Query parameter `id` is required, e.g. ?id=gen-...", param="id")
        record = await st.ledger.get(gen_id)
        # Another key's generation is reported exactly like a missing one.
        if record is None or not viewer.owns(record.key_id):
            raise NotFound(f"No generation with id '{gen_id}'.")
        return json_response(generation_json(record))

    async def healthz(request: Request) -> Response:
        st = state()
        uptime = round(time.monotonic() - st.started, 1)
        if st.settings.require_keys:
            # Load balancers probe without a key: liveness only, no providers or addresses.
            return json_response({"status": "ok", "uptime_s": uptime})
        local = st.registry.specs.get("local")
        return json_response(
            {
                "status": "ok",
                "uptime_s": uptime,
                "providers": {n: s.available for n, s in sorted(st.registry.states.items())},
                "ledger_backlog": st.ledger.backlog(),
                # Whether it runs, not where: its loopback port is the gateway's business.
                "local_model": local is not None,
                "routes": st.gateway.health.snapshot(),
            }
        )

    async def feedback(request: Request) -> Response:
        """Teach the auto router: a score in [0, 1] for a generation (or a prompt and model)."""
        st = state()
        viewer = await st.access.viewer(request.headers.get("authorization"))
        if st.auto is None:
            raise BadRequest("Feedback trains the auto router, which is not configured here.")
        fb = await read_json(request, Feedback)
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
        return json_response({"data": {"learned": True, "prediction_error": round(corrected, 6)}})

    return [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/api/v1/models", list_models, methods=["GET"]),
        Route("/api/v1/generation", generation, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/v1/feedback", feedback, methods=["POST"]),
    ]
