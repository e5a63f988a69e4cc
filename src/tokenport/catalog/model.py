"""The catalog's typed entry."""

from __future__ import annotations

import msgspec

from tokenport.values import Pricing


class ModelEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    """One model as one provider serves it.

    `id` is `provider/upstream_id` and is unique. `slug` groups the same model across
    providers (e.g. `kimi-k2.5` at moonshotai, openrouter and togetherai), so a request for
    a bare slug can be served by any of them.
    """

    id: str
    provider: str
    upstream_id: str
    slug: str
    name: str
    author: str
    country: str
    pricing: Pricing
    context_length: int | None = None
    max_output: int | None = None
    tool_call: bool = True
    reasoning: bool = False
    open_weights: bool = False
    created: int | None = None  # release date (Unix seconds, UTC midnight), when known
