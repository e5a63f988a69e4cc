"""The provider seam: one adapter per wire protocol.

A provider turns a `ChatRequest` into a call to one upstream and the answer back into
`ChatResponse` or a stream of `Chunk`s. It raises only `UpstreamError` subclasses (see
`tokenport.errors`). Everything else (routing, fallbacks, pricing, ledger) lives above it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol

import msgspec

from tokenport.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    Route,
)

WireProtocol = Literal["openai", "anthropic"]
# How a provider turns reasoning on and off (see `wire.openai_chat._reasoning_fields`):
# OpenAI's `reasoning_effort`; `thinking: {type}` (GLM, Kimi, DeepSeek); Qwen's
# `enable_thinking` + `thinking_budget`; or no control at all.
ReasoningControl = Literal["effort", "thinking", "enable_thinking", "none"]


class Capabilities(msgspec.Struct, frozen=True):
    tools: bool = True
    response_format: bool = True
    seed: bool = True
    stream_usage: bool = True  # honours stream_options.include_usage
    cache_control: bool = False  # accepts Anthropic-style `cache_control` on parts and tools
    # Knows OpenAI's `developer` role; DeepSeek and others answer 400 "unknown variant", so
    # elsewhere a developer turn goes as the system turn it is.
    developer_role: bool = False
    embeddings: bool = True  # serves POST /embeddings (OpenAI protocol only)


class ProviderSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A provider declared as data (see `providers/providers.toml`).

    `renames` maps a ChatRequest field to the upstream's name for it (e.g.
    max_completion_tokens -> max_tokens); `exclude` lists fields the upstream rejects,
    which are dropped silently; `unsupported` lists fields that make the request
    impossible at this provider (the router skips it, or answers 400).
    """

    name: str
    base_url: str
    protocol: WireProtocol = "openai"
    key_env: str | None = None
    display_name: str | None = None
    renames: dict[str, str] = msgspec.field(default_factory=dict)
    exclude: list[str] = msgspec.field(default_factory=list)
    unsupported: list[str] = msgspec.field(default_factory=list)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    catalog_ids: list[str] = msgspec.field(default_factory=list)
    region: str | None = None
    reasoning: ReasoningControl = "effort"
    capabilities: Capabilities = Capabilities()


class Provider(Protocol):
    """What every adapter offers. `timeout` is the attempt's whole deadline in seconds."""

    spec: ProviderSpec

    async def chat(self, request: ChatRequest, route: Route, timeout: float) -> ChatResponse: ...

    def stream_chat(
        self, request: ChatRequest, route: Route, timeout: float
    ) -> AsyncIterator[Chunk]: ...

    async def embed(
        self, request: EmbeddingRequest, route: Route, timeout: float
    ) -> EmbeddingResponse: ...

    async def aclose(self) -> None: ...
