"""Budgets that reset and hold: one subject's spend per period, enforced at reservation.

A budget caps the spend of a key, a member (all their keys) or a workspace (all its keys)
per period: `daily`, `weekly` (Monday to Sunday), `monthly` (UTC, as OpenRouter's
`limit_reset`) or `lifetime`. A request must fit every budget above it, and its key's own
credit: admission reserves its worst-case cost on all of them in the key's one reservation
transaction (`KeyStore.reserve_all`), each with one conditional upsert

    usage + reserved + amount <= limit     (on the row of the budget's current period)

so that, as for the key's credit, concurrent requests on any number of gateway processes
sharing the database can never reserve past a budget. The limit is read in that statement,
so a budget lowered through any process holds at once for every new reservation, and
one deleted limits nothing even where a process still has it cached.

Usage is one row per budget and period (`db/schema/company.py`): a new period is a new row,
so nothing is reset in place and there is no reset to race with. A request is charged to
the period it was admitted in (its hold names the rows: `ledger/budget_charges.py`).

Budget *definitions* are cached in memory (a `BudgetBook`, kept by `security/refresh.py`)
and reloaded every `refresh_s` by a background task, never on the request path, and at once
after a change through this process: with no budget configured, admission does nothing
more than before. A budget created through another process applies here within `refresh_s`.
"""

from __future__ import annotations

import calendar
import functools
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

from tokenport.ledger.budget_charges import slot_name
from tokenport.security.keys import NANO, ApiKey

Period = Literal["daily", "weekly", "monthly", "lifetime"]
Level = Literal["key", "member", "workspace"]
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "lifetime")
LEVELS: tuple[Level, ...] = ("key", "member", "workspace")


def period_start(period: str, ts: float) -> int:
    """The Unix second (UTC) at which the period holding `ts` began; 0 for lifetime.

    Integer arithmetic on the request path (a datetime round trip costs ~10 us a budget):
    Unix time has no leap seconds, so a UTC day is 86,400 s and day 0 was a Thursday."""
    if period == "lifetime":
        return 0
    day = int(ts // _DAY)
    if period == "daily":
        return day * _DAY
    if period == "weekly":
        return (day - (day + 3) % 7) * _DAY  # back to Monday
    return _month_start(day)


@functools.lru_cache(maxsize=64)
def _month_start(day: int) -> int:
    t = time.gmtime(day * _DAY)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))


_DAY = 86_400


def period_end(period: str, start: int) -> int | None:
    """When the period that began at `start` ends (None: never)."""
    if period == "lifetime":
        return None
    begin = datetime.fromtimestamp(start, UTC)
    if period == "daily":
        return int((begin + timedelta(days=1)).timestamp())
    if period == "weekly":
        return int((begin + timedelta(days=7)).timestamp())
    year, month = (begin.year + 1, 1) if begin.month == 12 else (begin.year, begin.month + 1)
    return int(begin.replace(year=year, month=month).timestamp())


class Budget(msgspec.Struct, frozen=True):
    id: str
    workspace_id: str
    level: Level
    subject: str  # the key's, member's or workspace's id
    period: Period
    limit_nano: int
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def limit_usd(self) -> float:
        return self.limit_nano / NANO

    def describe(self) -> str:
        """How a refusal names this budget."""
        period = "lifetime" if self.period == "lifetime" else self.period
        return f"the {self.level} '{self.subject}' {period} budget ({self.id})"


class BudgetUsage(msgspec.Struct, frozen=True):
    """One budget's current period, as an admin or a key's owner reads it."""

    budget: Budget
    period_start: int
    period_end: int | None
    usage_nano: int
    reserved_nano: int

    @property
    def remaining_nano(self) -> int:
        return max(0, self.budget.limit_nano - self.usage_nano - self.reserved_nano)


class BudgetBook:
    """The budgets in force, indexed by what they cap: O(1) per level for a key."""

    def __init__(self, budgets: Sequence[Budget] = ()) -> None:
        self.budgets = list(budgets)
        # Every period starts at a UTC midnight: a key's slots change once a day at most.
        self._memo: dict[tuple[str, int], list[str]] = {}
        self._by: dict[tuple[str, str], list[Budget]] = {}
        for b in budgets:
            self._by.setdefault((b.level, b.subject), []).append(b)

    def __bool__(self) -> bool:
        return bool(self._by)

    def for_key(self, key: ApiKey) -> list[Budget]:
        """Every budget above `key`: its own, its member's, its workspace's."""
        by = self._by
        found = [*by.get(("key", key.id), ()), *by.get(("workspace", key.workspace_id), ())]
        if key.member_id is not None:
            found += by.get(("member", key.member_id), ())
        return found

    def slots(self, key: ApiKey, now: float) -> list[str]:
        """The budget periods a request by `key` at `now` reserves on, in lock order."""
        if not self._by:
            return []
        memo_key = (key.id, int(now // _DAY))
        found = self._memo.get(memo_key)
        if found is None:
            found = sorted(slot_name(b.id, period_start(b.period, now)) for b in self.for_key(key))
            if len(self._memo) > 50_000:
                self._memo.clear()
            self._memo[memo_key] = found
        return list(found)

    def get(self, budget_id: str) -> Budget | None:
        return next((b for b in self.budgets if b.id == budget_id), None)


class BudgetQueries:
    """The budget tables' SQL for one parameter style (`?` or `%s`)."""

    def __init__(self, p: str) -> None:
        # One statement per budget: the period's row is created on its first reservation,
        # and the limit is read where the row is locked, so it is never stale.
        # A budget deleted since this process cached it limits nothing (COALESCE).
        limit = (
            "COALESCE((SELECT limit_nano FROM budgets WHERE budgets.id = {id}), "
            "9000000000000000000)"
        )
        self.reserve = (
            "INSERT INTO budget_usage (budget_id, period_start, usage_nano, reserved_nano) "
            f"SELECT {p}, {p}, 0, {p} WHERE {p} <= {limit.format(id=p)} "
            "ON CONFLICT (budget_id, period_start) DO UPDATE "
            "SET reserved_nano = budget_usage.reserved_nano + excluded.reserved_nano "
            "WHERE budget_usage.usage_nano + budget_usage.reserved_nano "
            f"+ excluded.reserved_nano <= {limit.format(id='budget_usage.budget_id')}"
        )
        self.hold = (
            "INSERT INTO budget_holds (holder, budget_id, period_start, reserved_nano) "
            f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (holder, budget_id, period_start) "
            "DO UPDATE SET reserved_nano = budget_holds.reserved_nano + excluded.reserved_nano"
        )
        self.held = (
            "SELECT budget_id, period_start, reserved_nano FROM budget_holds "
            f"WHERE holder = {p} ORDER BY budget_id, period_start"
        )
        self.take = (
            f"DELETE FROM budget_holds WHERE holder = {p} AND budget_id = {p} "
            f"AND period_start = {p} AND reserved_nano = {p}"
        )
        self.release = (
            f"UPDATE budget_usage SET reserved_nano = CASE WHEN reserved_nano > {p} "
            f"THEN reserved_nano - {p} ELSE 0 END WHERE budget_id = {p} AND period_start = {p}"
        )
        self.orphans = (
            "SELECT DISTINCT holder FROM budget_holds "
            "WHERE holder NOT IN (SELECT holder FROM key_holders)"
        )
        self.usage = (
            "SELECT usage_nano, reserved_nano FROM budget_usage "
            f"WHERE budget_id = {p} AND period_start = {p}"
        )
