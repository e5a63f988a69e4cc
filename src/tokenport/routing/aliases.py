"""Model aliases: the names an agent asks for, mapped to real routes by the operator.

Claude Code asks for `claude-sonnet-4-5-20250929` or `claude-haiku-4-5`; a config line
such as `"claude-sonnet-*" = "moonshotai/kimi-k2.5"` sends that work to Kimi instead.
Patterns are shell globs (`fnmatch`), matched case-insensitively, the first match wins in
file order; an exact name always wins over a pattern.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Protocol


class _Request(Protocol):
    model: str
    models: list[str] | None


class Aliases:
    def __init__(self, table: Mapping[str, str]) -> None:
        self._exact = {k.lower(): v for k, v in table.items() if not _is_glob(k)}
        self._globs = [(k.lower(), v) for k, v in table.items() if _is_glob(k)]

    def __bool__(self) -> bool:
        return bool(self._exact or self._globs)

    def resolve(self, model: str) -> str:
        key = model.lower()
        found = self._exact.get(key)
        if found is not None:
            return found
        for pattern, target in self._globs:
            if fnmatch.fnmatchcase(key, pattern):
                return target
        return model

    def apply(self, request: _Request) -> None:
        """Rewrite the request's model (and fallbacks) in place."""
        if not self:
            return
        request.model = self.resolve(request.model)
        if request.models:
            request.models = [self.resolve(m) for m in request.models]


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")
