"""One rankings query from parameters to the `Rankings` object: shared by the API and the CLI.

`parse_query` validates the parameters (HTTP query or CLI flags alike) and raises
`ParamError` naming the parameter and, for closed sets, the allowed values; `compute` reads
the rollups and ranks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import cast

import msgspec

from tokenport.analytics.periods import (
    HOUR,
    MODES,
    WINDOWS,
    Mode,
    Period,
    PeriodPlan,
    Window,
    parse_time,
    period_plan,
)
from tokenport.analytics.rankings import DIMENSIONS, Rankings, RankInput, rank
from tokenport.analytics.source import RollupSource, SourceDimension
from tokenport.catalog.store import Catalog
from tokenport.errors import BadRequest
from tokenport.ledger.store import UsageRow

PARAMS = ("window", "mode", "by", "end", "periods", "limit", "span")
END_WORDS = ("auto", "now", "latest")
_BOUNDS = {"periods": (2, 52), "limit": (1, 100), "span": (1, 51)}


class ParamError(BadRequest):
    """A bad query parameter; `allowed` lists the valid values where the set is closed."""

    code = "invalid_parameter"

    def __init__(self, param: str, message: str, allowed: tuple[str, ...] | None = None) -> None:
        super().__init__(message, param=param, allowed=allowed)


class Query(msgspec.Struct, frozen=True):
    window: Window = "week"
    mode: Mode = "rolling"
    by: tuple[str, ...] = DIMENSIONS
    end: str = "auto"  # "auto", "now", "latest", or a time `periods.parse_time` reads
    periods: int = 8
    limit: int = 10
    span: int = 3


def parse_query(params: Mapping[str, str]) -> Query:
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ParamError(unknown[0], f"Unknown query parameter {unknown[0]!r}.", PARAMS)
    window = _choice(params, "window", WINDOWS, "week")
    mode = _choice(params, "mode", MODES, "rolling")
    by = tuple(b.strip() for b in params.get("by", "").split(",") if b.strip()) or DIMENSIONS
    bad = [b for b in by if b not in DIMENSIONS]
    if bad:
        raise ParamError("by", f"Cannot rank by {bad[0]!r}.", DIMENSIONS)
    end = params.get("end", "auto").strip() or "auto"
    if end not in END_WORDS:
        try:
            parse_time(end)
        except ValueError:
            raise ParamError(
                "end",
                f"end={end!r} is not a time from 1970 to 8999 (Unix seconds, an ISO date or "
                "date-time) or one of the words:",
                END_WORDS,
            ) from None
    numbers = {name: _int(params, name, default) for name, default in _defaults().items()}
    return Query(window=cast(Window, window), mode=cast(Mode, mode), by=by, end=end, **numbers)


def _defaults() -> dict[str, int]:
    q = Query()
    return {"periods": q.periods, "limit": q.limit, "span": q.span}


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default).strip().lower() or default
    if value not in allowed:
        raise ParamError(name, f"{name}={value!r} is not one of the allowed values.", allowed)
    return value


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None or not text.strip():
        return default
    low, high = _BOUNDS[name]
    try:
        value = int(text)
    except ValueError:
        raise ParamError(name, f"{name} must be a whole number from {low} to {high}.") from None
    if not low <= value <= high:
        raise ParamError(name, f"{name} must be a whole number from {low} to {high}.")
    return value


def resolve_end(query: Query, source: RollupSource, now: float) -> tuple[float, str]:
    """The window's end and where it came from ("param", "now" or "latest").

    "auto" is now, unless the ledger's newest traffic is older than the window that ends now
    (a simulated or imported ledger): then it ends after the newest hour, so the window
    shows data instead of nothing.
    """
    if query.end not in END_WORDS:
        return parse_time(query.end), "param"
    if query.end == "now":
        return now, "now"
    latest = source.latest_hour()
    if latest is None:
        return now, "now"
    latest_end = float(latest + HOUR)
    if (
        query.end == "latest"
        or latest_end <= period_plan(query.window, query.mode, now, 1).current.since
    ):
        return latest_end, "latest"
    return now, "now"


def compute(
    query: Query, source: RollupSource, catalog: Catalog, *, now: float | None = None
) -> Rankings:
    """Blocking: reads the database (run it in a thread from async code)."""
    end, end_source = resolve_end(query, source, time.time() if now is None else now)
    p = period_plan(query.window, query.mode, end, query.periods)
    data = _read(source, p, query.by)
    keys = source.keys() if {"key", "geography"} & set(query.by) else {}
    return rank(
        p,
        data,
        catalog,
        keys,
        sections=query.by,
        limit=query.limit,
        span=query.span,
        end_source=end_source,
    )


def _read(source: RollupSource, p: PeriodPlan, sections: tuple[str, ...]) -> RankInput:
    """All the rows a ranking needs, read in parallel: every period for models and apps,
    only the window and its comparison for keys (spend and geography have no history)."""
    dims: list[SourceDimension] = ["model"]
    if "app" in sections:
        dims.append("app")
    if "key" in sections or "geography" in sections:
        dims.append("key")
    last_two = p.periods[-2:]
    jobs: list[tuple[SourceDimension, Sequence[Period]]]
    jobs = [(d, last_two if d == "key" else p.periods) for d in dims]
    if p.compare is not None and p.compare != p.previous:
        jobs += [(d, [p.compare]) for d in dims]  # a partial calendar period: "to date"
    rows = source.by_periods(jobs)
    window = dict(zip(dims, rows[: len(dims)], strict=True))
    compare = dict(zip(dims, rows[len(dims) :], strict=False))  # empty: the previous period
    offset = len(p.periods) - len(last_two)
    return RankInput(
        models=window["model"],
        apps=window.get("app", []),
        keys=[_shift(r, offset) for r in window.get("key", [])],
        models_compare=compare.get("model"),
        apps_compare=compare.get("app"),
        keys_compare=compare.get("key"),
    )


def _shift(row: UsageRow, offset: int) -> UsageRow:
    row.bucket = (row.bucket or 0) + offset
    return row
