"""`Migration`: one named schema step, contributed by an area (see `schema/__init__.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from tokenport.db.url import Dialect


class Migration(NamedTuple):
    """One named step. Never edit or rename one that has shipped: append a new one.

    `statements` is portable SQL where possible; a step whose SQL must differ between the
    dialects gives a function of the dialect instead.
    """

    name: str
    statements: Sequence[str] | Callable[[Dialect], Sequence[str]]

    def sql(self, dialect: Dialect) -> Sequence[str]:
        statements = self.statements
        return statements(dialect) if callable(statements) else statements
