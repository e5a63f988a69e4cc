"""Anthropic's Messages API as an upstream.

The wire conversion (and its judgement calls) lives in `tokenport.wire`; this module only
sends requests on a pooled client and feeds the answer through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tokenport.errors import UpstreamBadRequest
from tokenport.providers.http import UpstreamClient
from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSpec,
    Route,
)
from tokenport.wire.anthropic_reply import decode_messages_response
from tokenport.wire.anthropic_stream import StreamState
from tokenport.wire.anthropic_upstream_out import messages_upstream_body
from tokenport.wire.sse import iter_sse

API_VERSION = "2023-06-01"


class AnthropicProvider:
    def __init__(self, spec: ProviderSpec, api_key: str | None) -> None:
        self.spec = spec
        headers = {"anthropic-version": API_VERSION, **spec.headers}
        if api_key:
            headers["x-api-key"] = api_key
        self._client = UpstreamClient(spec.name, spec.base_url, headers)
        # Accept a base URL given with or without the version segment.
        self._path = "/messages" if self._client.base_url.endswith("/v1") else "/v1/messages"

    def _body(self, request: ChatRequest, route: Route, stream: bool) -> bytes:
        return messages_upstream_body(
            self.spec.name, request, route.upstream_model, stream, self.spec.exclude
        )

    @staticmethod
    def _headers(request: ChatRequest) -> dict[str, str] | None:
        # A Messages client's beta features (interleaved thinking, context management, ...)
        # mean the same to an Anthropic upstream; to nothing else.
        beta = request.anthropic_beta
        return {"anthropic-beta": beta} if beta and request.door == "messages" else None

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        body = self._body(request, route, stream=False)
        headers = self._headers(request)
        async with self._client.post(self._path, body, timeout, headers=headers) as resp:
            raw = await resp.read()
        return decode_messages_response(self.spec.name, raw)

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        body = self._body(request, route, stream=True)
        state = StreamState(self.spec.name)
        headers = self._headers(request)
        async with self._client.post(
            self._path, body, timeout, stream=True, headers=headers
        ) as resp:
            async for _event, data in iter_sse(resp):
                for chunk in state.feed(data):
                    yield chunk
        state.finish()

    async def embed(
        self, request: EmbeddingRequest, route: Route, timeout: float
    ) -> EmbeddingResponse:
        raise UpstreamBadRequest(self.spec.name, "Anthropic's API serves no embeddings")

    async def aclose(self) -> None:
        await self._client.aclose()
