"""The catalog as OpenRouter's model list: `GET /v1/models` and `GET /api/v1/models`
(each entry also carries the OpenAI `Model` fields the openai SDKs read)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from tokenport.api.openrouter.catalog import model_json
from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog
from tokenport.providers.registry import Registry

_encoder = msgspec.json.Encoder()


def model_entry_json(e: ModelEntry, registry: Registry) -> dict[str, Any]:
    return model_json(e, registry.specs.get(e.provider), e.provider in registry.providers)


def model_list_json(entries: Iterable[ModelEntry], registry: Registry) -> dict[str, Any]:
    data = [model_entry_json(e, registry) for e in entries]
    # OpenRouter's list also says how many and where the next page is (there is none).
    return {"object": "list", "data": data, "total_count": len(data), "links": {"next": None}}


def models_body(catalog: Catalog, registry: Registry) -> bytes:
    return _encoder.encode(model_list_json(catalog.entries(), registry))
