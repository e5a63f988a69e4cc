"""The economics package's one error: a cost input that is missing, malformed or out of range.

It is a `ConfigError` because cost inputs come from config files, CLI flags and query
parameters alike; the CLI and the API turn it into a message or a 400 that names the field.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenport.errors import ConfigError


class CostInputError(ConfigError):
    """`field` is the dotted name of the bad input, e.g. `regions.cn-west.pue` or `batch_size`."""

    def __init__(self, field: str, message: str, allowed: Sequence[str] = ()) -> None:
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        super().__init__(f"{field}: {message}{hint}")
        self.field = field
        self.allowed = list(allowed)
