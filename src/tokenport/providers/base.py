"""The provider seam: one adapter per wire protocol.

A provider is declared as data (`values.ProviderSpec`, built from `providers.toml` and the
config by `registry.py`) and served by the adapter of its wire protocol.

A provider turns a `ChatRequest` into a call to one upstream and the answer back into
`ChatResponse` or a stream of `Chunk`s. It raises only `UpstreamError` subclasses (see
`tokenport.errors`). Everything else (routing, fallbacks, pricing, ledger) lives above it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    EndpointPolicy,
    Pricing,
    ProviderSpec,
    Route,
)


@dataclass(frozen=True, slots=True)
class ProviderState:
    """What routing needs to know about one configured provider (built by the registry)."""

    name: str
    available: bool  # configured with a key and enabled
    unsupported: frozenset[str]
    missing_key_env: str | None = None
    rtt_ms: float | None = None  # network round trip from the gateway, when configured
    cost: Pricing | None = None  # marginal serving cost of a self-hosted deployment
    # Data policy, quantization, parameters, region: the provider's, and per upstream model
    # where an `endpoints` entry differs (merged by the registry at start).
    policy: EndpointPolicy | None = None
    endpoints: Mapping[str, EndpointPolicy] = field(default_factory=dict)

    def policy_of(self, upstream_model: str) -> EndpointPolicy | None:
        return self.endpoints.get(upstream_model, self.policy) if self.endpoints else self.policy


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
