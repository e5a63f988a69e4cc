"""`POST /v1/embeddings`: routed, reserved, priced and recorded like chat.

The same pipeline as the chat doors (keys, aliases, rate limits, credit, fallbacks, the
ledger), over the embedding models' own catalog; only OpenAI-compatible upstreams serve it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tokenport.api.edge import (
    Receive,
    Scope,
    Send,
    abuse_signals,
    admit,
    api_key,
    context,
    guarded,
    header_pairs,
    read_body,
    send_json,
)
from tokenport.api.errors import error_headers, error_payload
from tokenport.api.state import State
from tokenport.errors import TokenportError
from tokenport.telemetry.watch import Watch
from tokenport.values import ChatRequest, Message
from tokenport.wire import embeddings

_encoder = msgspec.json.Encoder()
Payload = Callable[[TokenportError], dict[str, Any]]


class EmbeddingsEndpoint:
    def __init__(self, state: State, payload: Payload = error_payload) -> None:
        """`payload`: the error body's shape (OpenRouter's at `/api/v1/embeddings`)."""
        self.st = state
        self.payload = payload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guarded(self.st, "embeddings", scope, receive, send, self._handle, self._send_error)

    async def _send_error(self, send: Send, exc: TokenportError) -> None:
        body = _encoder.encode(self.payload(exc))
        await send_json(send, exc.status, body, header_pairs(error_headers(exc)))

    async def _handle(
        self,
        scope: Scope,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
        watch: Watch,
    ) -> None:
        st = self.st
        key = await st.admission.authenticate(api_key(headers))
        request = embeddings.parse_embeddings_request(
            await read_body(
                headers, receive, st.settings.max_body_bytes, st.settings.body_timeout_s
            )
        )
        ctx = context(headers, st.settings.simulation)
        ctx.key_id = key.id if key is not None else None
        ctx.watch = watch
        # What routing and admission read: the names, preferences, and the input as text.
        routing = ChatRequest(
            model=request.model,
            messages=[Message(role="user", content=embeddings.input_text(request))],
            models=request.models,
            provider=request.provider,
            max_tokens=1,
            door="embeddings",
        )
        ctx.signals = abuse_signals(st.settings, scope, headers, routing)
        decision = st.router.decide_embedding(routing, ctx.app)
        ctx.requested_model = decision.requested
        request.model, request.models = routing.model, routing.models
        routes = decision.routes
        if key is not None:
            await admit(st, key, routing, routes, ctx)
        with st.drain.tracked():
            done = await st.gateway.embed(request, routing, ctx, routes)
        body = embeddings.encode_embeddings_response(
            done.response, ctx.gen_id, done.route.model_id, done.usage, done.cost
        )
        await send_json(send, 200, body)
