"""Reading the shipped data files and checking numeric inputs, with errors that name the field.

Every number the cost model takes passes through one of the checks here, whether it came
from a TOML file, a config override, a CLI flag or a query string, so a bad value always
fails the same way: `CostInputError(field, ...)`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from tokenport.economics.errors import CostInputError

Table = Mapping[str, Any]


def data_text(name: str, package: str = "tokenport.economics") -> str:
    """The text of a file shipped in `package`'s `data/` folder (default `economics/data/`)."""
    return (resources.files(package) / "data" / name).read_text(encoding="utf-8")


def data_toml(name: str, package: str = "tokenport.economics") -> dict[str, Any]:
    return tomllib.loads(data_text(name, package))


def number(field: str, value: object) -> float:
    """A finite float; bools are refused because TOML `true` is never a price."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CostInputError(field, f"expected a number, got {type(value).__name__}")
    try:
        out = float(value)
    except ValueError:
        raise CostInputError(field, f"expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise CostInputError(field, f"expected a finite number, got {value!r}")
    return out


def positive(field: str, value: object) -> float:
    out = number(field, value)
    if out <= 0:
        raise CostInputError(field, f"must be > 0, got {out:g}")
    return out


def non_negative(field: str, value: object) -> float:
    out = number(field, value)
    if out < 0:
        raise CostInputError(field, f"must be >= 0, got {out:g}")
    return out


def fraction(field: str, value: object) -> float:
    """A share in (0, 1]: zero utilisation would make every fixed cost infinite."""
    out = number(field, value)
    if not 0 < out <= 1:
        raise CostInputError(field, f"must be in (0, 1], got {out:g}")
    return out


def at_least_one(field: str, value: object) -> float:
    """PUE and host overhead multiply energy; below 1 would create energy from nothing."""
    out = number(field, value)
    if out < 1:
        raise CostInputError(field, f"must be >= 1, got {out:g}")
    return out


def text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CostInputError(field, "expected a non-empty string")
    return value


def table(field: str, value: object) -> Table:
    if not isinstance(value, Mapping):
        raise CostInputError(field, f"expected a table, got {type(value).__name__}")
    return value


def require(field: str, row: Table, key: str) -> object:
    if key not in row:
        raise CostInputError(f"{field}.{key}", "missing")
    return row[key]


def merge(base: Table, overrides: Table | None, field: str) -> dict[str, dict[str, Any]]:
    """Rows of `base` with `overrides` laid over them field by field; new rows are allowed."""
    out = {key: dict(table(f"{field}.{key}", row)) for key, row in base.items()}
    for key, row in (overrides or {}).items():
        out.setdefault(str(key), {}).update(table(f"{field}.{key}", row))
    return out
