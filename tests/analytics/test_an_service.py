"""From query parameters to rankings: the window's end, and calendar "to date" comparisons."""

from __future__ import annotations

from pathlib import Path

import pytest

from _an_helpers import DAY, HOUR, fill, record
from tokenport.analytics.periods import parse_time
from tokenport.analytics.service import ParamError, compute, parse_query, resolve_end
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog

WED_NOON = parse_time("2026-03-04T12:00:00Z")  # the ISO week began Monday 2026-03-02
MODEL = "deepseek/deepseek-chat"


@pytest.fixture
def source(tmp_path: Path) -> RollupSource:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monday = WED_NOON - 2 * DAY - 12 * HOUR
    fill(url, [
        # This week to date: 2 requests. Last week: 1 before "Wednesday noon", 3 after it.
        record("a", monday + 5 * HOUR, MODEL), record("b", monday + DAY, MODEL),
        record("c", monday - 7 * DAY + HOUR, MODEL),
        *(record(f"d{i}", monday - 2 * DAY + i * HOUR, MODEL) for i in range(3)),
    ])  # fmt: skip
    return RollupSource(url)


def test_calendar_week_to_date_is_compared_with_last_week_to_date(
    source: RollupSource, catalog: Catalog
) -> None:
    query = parse_query({"mode": "calendar", "end": str(WED_NOON), "by": "model"})
    r = compute(query, source, catalog)
    entry = r.sections["model"].rows[0]
    assert entry.requests == 2
    assert r.compare is not None and r.compare.until == "2026-02-25T12:00:00Z"
    assert entry.growth == pytest.approx(2 / 1 - 1)  # not 2/4: Wednesday is not a weak week
    assert entry.history[-2:] == [4 * 110, 2 * 110]


def test_end_auto_follows_old_data_but_not_recent_data(source: RollupSource) -> None:
    latest = (source.latest_hour() or 0) + HOUR
    old_now = latest + 30 * DAY
    assert resolve_end(parse_query({}), source, old_now) == (latest, "latest")
    assert resolve_end(parse_query({}), source, latest + HOUR) == (latest + HOUR, "now")
    assert resolve_end(parse_query({"end": "now"}), source, old_now) == (old_now, "now")
    assert resolve_end(parse_query({"end": "latest"}), source, old_now) == (latest, "latest")


def test_numbers_are_bounded() -> None:
    with pytest.raises(ParamError, match="from 1 to 100") as info:
        parse_query({"limit": "0"})
    assert info.value.param == "limit"
    with pytest.raises(ParamError, match="whole number"):
        parse_query({"span": "two"})
    assert parse_query({"by": "model, app"}).by == ("model", "app")
