"""The small endpoints clients call beside the doors: `HEAD /` and `GET /` (Claude Code
probes the base URL before its first request), `POST /v1/messages/count_tokens`,
`GET /v1/models/{id}` and `GET /openapi.json` (the API described for tools and fuzzers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api import openapi
from tokenport.api.edge import api_key
from tokenport.api.errors import error_message
from tokenport.api.models import model_entry_json
from tokenport.api.state import State
from tokenport.errors import ModelNotFound, PayloadTooLarge, TokenportError
from tokenport.wire import anthropic_reply
from tokenport.wire.anthropic_parse import parse_request as parse_messages

_encoder = msgspec.json.Encoder()


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(obj), status_code=status, media_type="application/json")


def routes(state: Callable[[], State]) -> list[Route]:
    async def root(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(status_code=200, media_type="application/json")
        return _json({"name": "tokenport", "status": "ok", "docs": "GET /v1/models, /healthz"})

    async def count_tokens(request: Request) -> Response:
        """Anthropic's token counter. The count is the gateway's own estimate (the bundled
        tokenizer plus per-message overhead), the same one used when an upstream reports
        no usage; a client uses it to decide when to compact its context."""
        try:
            return await _count_tokens(request)
        except TokenportError as exc:  # in Anthropic's shape, as the SDK expects here
            body = anthropic_reply.error_body(exc, error_message(exc))
            return Response(body, status_code=exc.status, media_type="application/json")

    async def _count_tokens(request: Request) -> Response:
        st = state()
        headers = {k.lower(): v for k, v in request.headers.items()}
        await st.admission.authenticate(api_key(headers))
        body = await request.body()
        if len(body) > st.settings.max_body_bytes:
            raise PayloadTooLarge(f"The request body exceeds {st.settings.max_body_bytes} bytes.")
        # `max_tokens` is optional here, as at Anthropic; the parser does not require it.
        parsed = parse_messages(body, headers.get("anthropic-beta"))
        counter = st.gateway.counter
        tokens = await asyncio.to_thread(counter.count_messages, parsed.messages)
        if parsed.tools:
            tokens += await asyncio.to_thread(counter.count, _encoder.encode(parsed.tools).decode())
        return _json({"input_tokens": tokens})

    async def model(request: Request) -> Response:
        st = state()
        await request.app.state.access.viewer(request.headers.get("authorization"))
        name = request.path_params["model_id"]
        target = st.router.aliases.resolve(name)
        entry = st.catalog.get(target)
        if entry is None:
            found = st.catalog.resolve(target)
            if not found:
                raise ModelNotFound(name, st.catalog.suggest(name))
            entry = found[0]
        return _json(model_entry_json(entry, entry.provider in st.registry.providers))

    spec = _encoder.encode(openapi.document())

    async def openapi_json(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/api/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/api/v1/models/{model_id:path}", model, methods=["GET"]),
    ]
