"""Google's Gemini API (`generateContent`) as an upstream, natively.

The wire conversion (and its judgement calls) lives in `tokenport.wire` (`gemini_request`,
`gemini_reply.parse_response`, `gemini_stream.StreamState`); this module only sends
requests on a pooled client and feeds the answer through it. The key goes as
`x-goog-api-key`; `base_url` is the API's versioned root (`.../v1beta`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

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
from tokenport.wire.gemini_reply import parse_response
from tokenport.wire.gemini_request import gemini_upstream_body
from tokenport.wire.gemini_stream import StreamState
from tokenport.wire.sse import iter_sse


class GeminiProvider:
    def __init__(self, spec: ProviderSpec, api_key: str | None) -> None:
        self.spec = spec
        headers = dict(spec.headers)
        if api_key:
            headers["x-goog-api-key"] = api_key
        self._client = UpstreamClient(spec.name, spec.base_url, headers)

    @staticmethod
    def _path(route: Route, stream: bool) -> str:
        model = quote(route.upstream_model.removeprefix("models/"), safe="/-._")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/models/{model}:{action}"

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        body = gemini_upstream_body(request, self.spec.exclude)
        async with self._client.post(self._path(route, False), body, timeout) as resp:
            raw = await resp.read()
        return parse_response(self.spec.name, raw)

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        body = gemini_upstream_body(request, self.spec.exclude)
        state = StreamState(self.spec.name)
        async with self._client.post(self._path(route, True), body, timeout, stream=True) as resp:
            async for _event, data in iter_sse(resp):
                for chunk in state.feed(data):
                    yield chunk
        state.finish()

    async def embed(
        self, request: EmbeddingRequest, route: Route, timeout: float
    ) -> EmbeddingResponse:
        raise UpstreamBadRequest(self.spec.name, "embeddings are not served over Gemini's API")

    async def aclose(self) -> None:
        await self._client.aclose()
