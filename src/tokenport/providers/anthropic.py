"""Anthropic's Messages API as an upstream.

The wire conversion (and its judgement calls) lives in `anthropic_wire`; this module only
sends requests on a pooled client and feeds the answer through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tokenport.providers.anthropic_wire import StreamState, build_body, parse_response
from tokenport.providers.base import ProviderSpec
from tokenport.providers.http import UpstreamClient
from tokenport.providers.sse import iter_sse
from tokenport.types import ChatRequest, ChatResponse, Chunk, Route

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
        return build_body(self.spec.name, request, route.upstream_model, stream, self.spec.exclude)

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        body = self._body(request, route, stream=False)
        async with self._client.post(self._path, body, timeout) as resp:
            raw = await resp.read()
        return parse_response(self.spec.name, raw)

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        body = self._body(request, route, stream=True)
        state = StreamState(self.spec.name)
        async with self._client.post(self._path, body, timeout, stream=True) as resp:
            async for _event, data in iter_sse(resp):
                for chunk in state.feed(data):
                    yield chunk
        state.finish()

    async def health(self, timeout: float = 2.0) -> bool:
        return await self._client.get_ok(self._path.removesuffix("/messages") + "/models", timeout)

    async def aclose(self) -> None:
        await self._client.aclose()
