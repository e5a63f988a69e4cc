"""The OpenAI-compatible family: one adapter, driven entirely by `ProviderSpec` data.

DeepSeek, Kimi, MiniMax, GLM, Qwen, OpenAI, Groq, Together, ... and any vLLM, SGLang,
llama.cpp or Ollama server differ only in base URL, key, and a few parameter renames or
exclusions, so adding one is a data entry in `providers.toml`, not code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from tokenport.errors import UpstreamProtocolError, UpstreamServerError
from tokenport.openai_wire import StreamErrorPayload, decode_chunk, decode_response
from tokenport.providers.base import ProviderSpec
from tokenport.providers.http import UpstreamClient
from tokenport.providers.sse import iter_sse
from tokenport.types import ChatRequest, ChatResponse, Chunk, Route

# Fields that steer the gateway itself and must never reach an upstream.
_GATEWAY_ONLY = frozenset({"models", "provider", "extra", "stream_options", "stream"})
_encoder = msgspec.json.Encoder()


def build_body(spec: ProviderSpec, request: ChatRequest, route: Route, stream: bool) -> bytes:
    body: dict[str, Any] = {
        k: v
        for k, v in msgspec.structs.asdict(request).items()
        if v is not None and k not in _GATEWAY_ONLY
    }
    body.update(request.extra)
    body["model"] = route.upstream_model
    if stream:
        body["stream"] = True
        if spec.capabilities.stream_usage:
            body["stream_options"] = {"include_usage": True}
    for name in spec.exclude:
        body.pop(name, None)
    for old, new in spec.renames.items():
        if old in body:
            body[new] = body.pop(old)
    return _encoder.encode(body)


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
            return decode_response(raw)
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
                    chunks = decode_chunk(data)
                except StreamErrorPayload as exc:
                    raise UpstreamServerError(self.spec.name, f"error in stream: {exc}") from exc
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise UpstreamProtocolError(
                        self.spec.name, f"unreadable stream chunk: {exc}"
                    ) from exc
                for chunk in chunks:
                    yield chunk

    async def health(self, timeout: float = 2.0) -> bool:
        return await self._client.get_ok("/models", timeout)

    async def aclose(self) -> None:
        await self._client.aclose()
