"""The catalog as OpenRouter-like JSON: `GET /v1/models`."""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog
from tokenport.providers.registry import Registry

_encoder = msgspec.json.Encoder()


def _per_token(usd_per_m: float | None) -> str | None:
    return None if usd_per_m is None else f"{usd_per_m / 1_000_000:.12f}".rstrip("0").rstrip(".")


def model_entry_json(e: ModelEntry, available: bool) -> dict[str, Any]:
    p = e.pricing
    return {
        "id": e.id,
        "name": e.name,
        "object": "model",
        "created": e.created or 0,  # OpenAI's clients require the field; 0 when unknown
        "owned_by": e.author,
        "provider": e.provider,
        "slug": e.slug,
        "context_length": e.context_length,
        "author": e.author,
        "country": e.country,
        "available": available,
        "pricing": {
            "prompt": _per_token(p.input),
            "completion": _per_token(p.output),
            "input_cache_read": _per_token(p.cache_read),
            "input_cache_write": _per_token(p.cache_write),
        },
        "top_provider": {"context_length": e.context_length, "max_completion_tokens": e.max_output},
    }


def models_body(catalog: Catalog, registry: Registry) -> bytes:
    data = [model_entry_json(e, e.provider in registry.providers) for e in catalog.entries()]
    return _encoder.encode({"object": "list", "data": data})
