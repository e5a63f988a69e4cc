"""Window bounds as people write them."""

from __future__ import annotations

import calendar
import datetime as dt

from tokenport.errors import BadRequest


def parse_when(text: str | None, what: str) -> float | None:
    """A date (2026-02-01, UTC midnight), an ISO datetime, or Unix seconds."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:
            return float(calendar.timegm(dt.date.fromisoformat(text).timetuple()))
        when = dt.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    except ValueError:
        raise BadRequest(
            f"{what}: {text!r} is not a date (YYYY-MM-DD), an ISO datetime or Unix seconds.",
            param=what.lstrip("-"),
        ) from None
