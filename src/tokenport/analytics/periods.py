"""Ranking windows: which hours a "week" (or day, or month) covers, and what it is compared to.

Everything is UTC and hour-aligned, because the rollups are hourly.

- rolling: the window is the `length` ending at `end` (rounded up to the hour); the earlier
  periods are the same length, back to back. The comparison period is the one before.
- calendar: the window is the calendar day, ISO week (Monday) or month that contains the last
  hour before `end`, cut at `end`; the earlier periods are whole calendar periods. A partial
  period is compared with the same elapsed span of the previous one ("week to date" against
  "last week to the same point"), so a Wednesday does not read as a 60% fall.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal, get_args

import msgspec

Window = Literal["day", "week", "month"]
Mode = Literal["rolling", "calendar"]
WINDOWS: tuple[str, ...] = get_args(Window)
MODES: tuple[str, ...] = get_args(Mode)
HOUR = 3600
DAY = 86_400
_ROLLING_DAYS = {"day": 1, "week": 7, "month": 30}


class Period(msgspec.Struct, frozen=True):
    """Hours [since, until) in Unix seconds; `label` names the period for charts."""

    since: int
    until: int
    label: str


class PeriodPlan(msgspec.Struct, frozen=True):
    """The periods to aggregate, oldest first; the last is the ranked window.

    `compare` is the range growth is measured against: the previous period, or for a partial
    calendar period the same elapsed span of the previous one.
    """

    window: Window
    mode: Mode
    periods: tuple[Period, ...]
    compare: Period | None

    @property
    def current(self) -> Period:
        return self.periods[-1]

    @property
    def previous(self) -> Period | None:
        return self.periods[-2] if len(self.periods) > 1 else None


def ceil_hour(ts: float) -> int:
    return -(-int(ts) // HOUR) * HOUR


def period_plan(window: Window, mode: Mode, end: float, count: int) -> PeriodPlan:
    """`count` periods ending with the window that ends at `end` (at least one)."""
    count = max(1, count)
    until = ceil_hour(end)
    if mode == "rolling":
        periods = _rolling(window, until, count)
        return PeriodPlan(window, mode, periods, periods[-2] if count > 1 else None)
    periods = _calendar(window, until, count)
    return PeriodPlan(window, mode, periods, _to_date(window, periods) if count > 1 else None)


def _rolling(window: Window, until: int, count: int) -> tuple[Period, ...]:
    length = _ROLLING_DAYS[window] * DAY
    starts = [until - length * (count - i) for i in range(count)]
    return tuple(Period(s, s + length, _label(s, window)) for s in starts)


def _calendar(window: Window, until: int, count: int) -> tuple[Period, ...]:
    start = _calendar_start(window, until - HOUR)
    periods = [Period(start, until, _label(start, window))]
    while len(periods) < count:
        prev = _calendar_start(window, periods[0].since - HOUR)
        periods.insert(0, Period(prev, periods[0].since, _label(prev, window)))
    return tuple(periods)


def _to_date(window: Window, periods: tuple[Period, ...]) -> Period:
    cur, prev = periods[-1], periods[-2]
    if cur.until >= _next_start(window, cur.since):
        return prev  # a whole period: compare with the whole previous one
    elapsed = cur.until - cur.since
    return Period(prev.since, min(prev.until, prev.since + elapsed), prev.label)


def _calendar_start(window: Window, ts: int) -> int:
    day = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    if window == "week":
        day -= dt.timedelta(days=day.weekday())
    elif window == "month":
        day = day.replace(day=1)
    return calendar.timegm(day.timetuple())


def _next_start(window: Window, start: int) -> int:
    if window != "month":
        return start + (DAY if window == "day" else 7 * DAY)
    return _calendar_start("month", start + 32 * DAY)


def _label(since: int, window: Window) -> str:
    d = dt.datetime.fromtimestamp(since, dt.UTC)
    if window == "month" and d.day == 1 and d.hour == 0:
        return d.strftime("%Y-%m")
    return d.strftime("%Y-%m-%d" if d.hour == 0 else "%Y-%m-%d %H:00")


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


MAX_TIME = 221_845_305_600.0  # 8999-12-31T00:00:00Z


def parse_time(text: str) -> float:
    """Unix seconds, or an ISO date / date-time (UTC unless it says otherwise).

    A bare date means the end of that day, so `end=2026-02-28` includes the 28th.
    Raises ValueError, also for NaN, infinities and times outside 1970..8999: calendar
    arithmetic on those overflows (`datetime` ends at year 9999, periods reach back a year).
    """
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        if len(text) == 10:
            value = calendar.timegm(dt.date.fromisoformat(text).timetuple()) + DAY
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            value = parsed.timestamp()
    if not (0.0 <= value <= MAX_TIME):  # NaN fails this too
        raise ValueError(f"time out of range: {text!r}")
    return value
