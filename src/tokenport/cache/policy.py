"""When a request uses the cache: the client's header, or the operator's default.

`X-Tokenport-Cache: true` (or OpenRouter's `X-OpenRouter-Cache: true`) asks for it;
`false` refuses it even where `[cache] default = true`. `X-Tokenport-Cache-TTL: SECONDS`
shortens (never lengthens) how long this answer is kept. `X-Tokenport-Cache-Sampled: true`
lets an answer to a request with temperature > 0 be stored, which `[cache] sampled = true`
allows for every request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tokenport.config import CacheConfig
from tokenport.errors import BadRequest

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True, slots=True)
class CacheAsk:
    """What one request asked of the cache."""

    ttl_s: float
    sampled: bool  # an answer to a temperature > 0 request may be stored


def _flag(headers: Mapping[str, str], *names: str) -> bool | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        shown = "-".join(w.capitalize() for w in name.split("-"))
        raise BadRequest(f"The header {shown} must be true or false, not {value[:40]!r}.")
    return None


class CachePolicy:
    def __init__(self, cfg: CacheConfig) -> None:
        self.cfg = cfg

    def ask(self, headers: Mapping[str, str]) -> CacheAsk | None:
        on = _flag(headers, "x-tokenport-cache", "x-openrouter-cache")
        if not (self.cfg.default if on is None else on):
            return None
        ttl = self.cfg.ttl_s
        raw = headers.get("x-tokenport-cache-ttl")
        if raw is not None:
            try:
                asked = float(raw)
            except ValueError:
                asked = math.nan
            if not (asked > 0 and math.isfinite(asked)):
                raise BadRequest("X-Tokenport-Cache-TTL must be a positive number of seconds.")
            ttl = min(ttl, asked)
        sampled = _flag(headers, "x-tokenport-cache-sampled")
        return CacheAsk(ttl, self.cfg.sampled if sampled is None else sampled)
