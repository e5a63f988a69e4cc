"""The OpenAI-compatible family: one adapter, driven entirely by `ProviderSpec` data.

DeepSeek, Kimi, MiniMax, GLM, Qwen, OpenAI, Groq, Together, ... and any vLLM, SGLang,
llama.cpp or Ollama server differ only in base URL, key, and a few parameter renames or
exclusions, so adding one is a data entry in `providers.toml`, not code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from tokenport.errors import UpstreamProtocolError, UpstreamServerError
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
from tokenport.wire import embeddings
from tokenport.wire.openai_chat import (
    StreamErrorPayload,
    chat_upstream_body,
    decode_chat_chunk,
    decode_chat_response,
)
from tokenport.wire.sse import iter_sse


def build_body(spec: ProviderSpec, request: ChatRequest, route: Route, stream: bool) -> bytes:
    return chat_upstream_body(spec, request, route.upstream_model, stream)


class OpenAICompatProvider:
    def __init__(self, spec: ProviderSpec, api_key: str | None) -> None:
        self.spec = spec
        headers = dict(spec.headers)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = UpstreamClient(spec.name, spec.base_url, headers)

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse:
        body = build_body(self.spec, request, route, stream=False)
        async with self._client.post("/chat/completions", body, timeout) as resp:
            raw = await resp.read()
        try:
            return decode_chat_response(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamProtocolError(self.spec.name, f"unreadable answer: {exc}") from exc

    async def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        body = build_body(self.spec, request, route, stream=True)
        async with self._client.post("/chat/completions", body, timeout, stream=True) as resp:
            async for _event, data in iter_sse(resp):
                if data == b"[DONE]":
                    return
                try:
                    chunks = decode_chat_chunk(data)
                except StreamErrorPayload as exc:
                    raise UpstreamServerError(self.spec.name, f"error in stream: {exc}") from exc
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise UpstreamProtocolError(
                        self.spec.name, f"unreadable stream chunk: {exc}"
                    ) from exc
                for chunk in chunks:
                    yield chunk

    async def embed(
        self, request: EmbeddingRequest, route: Route, timeout: float
    ) -> EmbeddingResponse:
        body = embeddings.embeddings_upstream_body(request, route.upstream_model)
        async with self._client.post("/embeddings", body, timeout) as resp:
            raw = await resp.read()
        try:
            return embeddings.decode_embeddings_response(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamProtocolError(self.spec.name, f"unreadable answer: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
