"""The small endpoints clients call beside the doors: `HEAD /` and `GET /` (Claude Code
probes the base URL before its first request), `POST /v1/messages/count_tokens`,
`GET /v1/models/{id}` and `GET /openapi.json` (the API described for tools and fuzzers).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.edge import api_key
from tokenport.api.errors import error_message
from tokenport.api.http import JSON_TYPE, json_response, read_body
from tokenport.api.models import model_entry_json
from tokenport.api.state import State
from tokenport.errors import ModelNotFound, TokenportError
from tokenport.wire import anthropic_reply
from tokenport.wire.anthropic_client_in import parse_messages_request as parse_messages

_encoder = msgspec.json.Encoder()


def routes(state: Callable[[], State]) -> list[Route]:
    async def root(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(status_code=200, media_type=JSON_TYPE)
        return json_response(
            {"name": "tokenport", "status": "ok", "docs": "GET /v1/models, /healthz"}
        )

    async def count_tokens(request: Request) -> Response:
        """Anthropic's token counter. The count is the gateway's own estimate (the bundled
        tokenizer plus per-message overhead), the same one used when an upstream reports
        no usage; a client uses it to decide when to compact its context."""
        try:
            return await _count_tokens(request)
        except TokenportError as exc:  # in Anthropic's shape, as the SDK expects here
            body = anthropic_reply.error_body(exc, error_message(exc))
            return Response(body, status_code=exc.status, media_type=JSON_TYPE)

    async def _count_tokens(request: Request) -> Response:
        st = state()
        headers = {k.lower(): v for k, v in request.headers.items()}
        await st.admission.authenticate(api_key(headers))
        body = await read_body(request, st.settings.max_body_bytes)
        # `max_tokens` is optional here, as at Anthropic; the parser does not require it.
        parsed = parse_messages(body, headers.get("anthropic-beta"))
        counter = st.gateway.counter
        tokens = await asyncio.to_thread(counter.count_messages, parsed.messages)
        if parsed.tools:
            tokens += await asyncio.to_thread(counter.count, _encoder.encode(parsed.tools).decode())
        return json_response({"input_tokens": tokens})

    async def model(request: Request) -> Response:
        st = state()
        await st.access.viewer(request.headers.get("authorization"))
        name = request.path_params["model_id"]
        target = st.router.aliases.resolve(name)
        entry = st.catalog.get(target)
        if entry is None:
            found = st.catalog.resolve(target)
            if not found:
                raise ModelNotFound(name, st.catalog.suggest(name))
            entry = found[0]
        return json_response(model_entry_json(entry, st.registry))

    async def openapi_json(request: Request) -> Response:
        return Response(_openapi_spec(), media_type=JSON_TYPE)

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/api/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/api/v1/models/{model_id:path}", model, methods=["GET"]),
    ]


@functools.cache
def _openapi_spec() -> bytes:
    # Built on the first GET /openapi.json: describing every endpoint reaches the rankings'
    # and the economics' parameters, which a gateway that never serves the document need
    # not load (tests/api/test_app_footprint.py).
    from tokenport.api import openapi

    return _encoder.encode(openapi.document())
