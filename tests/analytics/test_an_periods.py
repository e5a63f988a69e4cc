"""Ranking windows: rolling and calendar periods, and what growth compares against."""

from __future__ import annotations

import pytest

from _an_helpers import DAY, END, HOUR
from tokenport.analytics.periods import parse_time, period_plan


def test_rolling_week_periods_are_back_to_back_and_end_at_the_hour() -> None:
    p = period_plan("week", "rolling", END - 1800, 4)  # half past: rounded up to the hour
    assert p.current.until == END
    assert [q.until - q.since for q in p.periods] == [7 * DAY] * 4
    assert all(a.until == b.since for a, b in zip(p.periods, p.periods[1:], strict=False))
    assert p.compare == p.previous


def test_calendar_week_is_partial_and_compared_to_date() -> None:
    # 2026-03-04 is a Wednesday: the ISO week started Monday 2026-03-02.
    wednesday_noon = parse_time("2026-03-04T12:00:00Z")
    p = period_plan("week", "calendar", wednesday_noon, 3)
    assert p.current.label == "2026-03-02"
    assert p.current.until - p.current.since == 2 * DAY + 12 * HOUR
    assert p.previous is not None and p.previous.until - p.previous.since == 7 * DAY
    assert p.compare is not None
    assert p.compare.since == p.previous.since
    assert p.compare.until - p.compare.since == p.current.until - p.current.since


def test_calendar_months_have_their_own_lengths() -> None:
    p = period_plan("month", "calendar", END, 3)  # END is 2026-03-01T00:00 -> February is current
    assert [q.label for q in p.periods] == ["2025-12", "2026-01", "2026-02"]
    assert p.current.until - p.current.since == 28 * DAY
    assert p.compare == p.previous  # a whole month: no truncation


def test_rolling_day_and_month_lengths() -> None:
    assert period_plan("day", "rolling", END, 2).current.since == END - DAY
    assert period_plan("month", "rolling", END, 2).current.since == END - 30 * DAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1772323200", 1772323200.0),
        ("2026-02-28", 1772323200.0),  # a bare date means the end of that day
        ("2026-03-01T00:00:00Z", 1772323200.0),
        ("2026-03-01T01:00:00+01:00", 1772323200.0),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text) == expected


def test_parse_time_rejects_words() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        parse_time("yesterday")
