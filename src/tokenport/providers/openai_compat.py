"""The OpenAI-compatible family: one adapter, driven entirely by `ProviderSpec` data.

DeepSeek, Kimi, MiniMax, GLM, Qwen, OpenAI, Groq, Together, ... and any vLLM, SGLang,
llama.cpp or Ollama server differ only in base URL, key, and a few parameter renames or
exclusions, so adding one is a data entry in `providers.toml`, not code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec

from tokenport.errors import UpstreamBadRequest, UpstreamProtocolError, UpstreamServerError
from tokenport.providers.http import UpstreamClient
from tokenport.tokens import TokenCounter
from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSpec,
    Route,
)
from tokenport.wire import completions, embeddings
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
        # A continuation (stream resume) served at its own base URL (DeepSeek's /beta).
        cont = spec.continuation.base_url if spec.continuation else None
        self._continue = UpstreamClient(spec.name, cont, headers) if cont else self._client
        self._counter: TokenCounter | None = None  # the chat template, for "completion"

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
        cont = self.spec.continuation
        if cont is not None and cont.mode == "completion" and request.messages[-1].prefix:
            async for chunk in self._complete_prefix(request, route, timeout):
                yield chunk
            return
        body = build_body(self.spec, request, route, stream=True)
        client = self._client
        if self._continue is not client and request.messages and request.messages[-1].prefix:
            client = self._continue
        async with client.post("/chat/completions", body, timeout, stream=True) as resp:
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

    async def _complete_prefix(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]:
        """Continue a partial answer (the last, `prefix` message) by raw completion: the
        conversation rendered by the bundled model's chat template, then the partial."""
        if self._counter is None:
            self._counter = TokenCounter()
        *conversation, partial = request.messages
        prompt = await asyncio.to_thread(self._counter.chat_prompt, conversation)
        if prompt is None:
            raise UpstreamBadRequest(self.spec.name, "no chat template to continue an answer")
        text = partial.content if isinstance(partial.content, str) else ""
        body = completions.prompt_body(request, route.upstream_model, prompt + text)
        async with self._client.post("/completions", body, timeout, stream=True) as resp:
            async for _event, data in iter_sse(resp):
                if data == b"[DONE]":
                    return
                try:
                    chunks = completions.decode_prompt_chunk(data)
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
        if self._continue is not self._client:
            await self._continue.aclose()
