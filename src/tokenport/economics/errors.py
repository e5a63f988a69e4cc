"""The economics package's one error: a cost input that is missing, malformed or out of range.

Cost inputs come from config files, CLI flags and query parameters alike. It is a
`BadRequest` (a 400 naming the field and its allowed values, at the one error boundary);
loading the config turns it into a `ConfigError` named as the file spells it
(`economics.settings.economics_of`), and the CLI prints its message.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenport.errors import BadRequest


class CostInputError(BadRequest):
    """`field` is the dotted name of the bad input, e.g. `regions.cn-west.pue` or `batch_size`."""

    code = "invalid_cost_input"

    def __init__(self, field: str, message: str, allowed: Sequence[str] = ()) -> None:
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        super().__init__(f"{field}: {message}{hint}", param=field, allowed=allowed or None)
        self.field = field
