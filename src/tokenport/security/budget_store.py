"""Budgets as stored: create, edit, delete, and read a budget's current period.

Edits change the limit only: usage lives in its own rows (one per period), so an edit never
loses usage, and a lowered limit holds at once for every new reservation (the limit is read
where a reservation locks the period's row: `security/budgets.py`).

A key's own `limit` with a `limit_reset` (OpenRouter's key fields) is a key budget with a
fixed id, `kl_<key id>_<period>`, kept in step by `set_key_limit`; a key's limit without a
reset is its lifetime credit (`api_keys.credit_limit_nano`), as before.
"""

from __future__ import annotations

import time

import msgspec
from ulid import ULID

from tokenport.errors import BadRequest, Conflict, NotFound
from tokenport.security.budgets import (
    LEVELS,
    PERIODS,
    Budget,
    BudgetUsage,
    period_end,
    period_start,
)
from tokenport.security.keys import ApiKey, KeyEdit
from tokenport.security.keystore import KeyStore

_COLUMNS = "id, workspace_id, level, subject, period, limit_nano, created_at, updated_at"
_FIELDS = ("id", "workspace_id", "level", "subject", "period", "limit_nano", "created_at")


class BudgetAlert(msgspec.Struct, frozen=True):
    budget_id: str
    period_start: int
    threshold: int
    usage_nano: int
    limit_nano: int
    created_at: float
    sent_at: float | None
    attempts: int


def key_limit_id(key_id: str, period: str) -> str:
    return f"kl_{key_id}_{period}"


class BudgetStore:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.p = keys.param

    def all_budgets(self) -> list[Budget]:
        rows, _ = self.keys.execute(f"SELECT {_COLUMNS} FROM budgets ORDER BY id")
        return [_budget(r) for r in rows]

    def in_workspace(self, workspace_id: str | None = None) -> list[Budget]:
        budgets = self.all_budgets()
        if workspace_id is None:
            return budgets
        return [b for b in budgets if b.workspace_id == workspace_id]

    def find(self, budget_id: str) -> Budget | None:
        rows, _ = self.keys.execute(
            f"SELECT {_COLUMNS} FROM budgets WHERE id = {self.p}", (budget_id,)
        )
        return _budget(rows[0]) if rows else None

    def get(self, budget_id: str) -> Budget:
        b = self.find(budget_id)
        if b is None:
            raise NotFound(f"No budget '{budget_id}'.")
        return b

    def create(
        self,
        workspace_id: str,
        level: str,
        subject: str,
        period: str,
        limit_nano: int,
        budget_id: str | None = None,
    ) -> Budget:
        if level not in LEVELS:
            raise BadRequest(f"level must be one of {', '.join(LEVELS)}.", param="level")
        if period not in PERIODS:
            raise BadRequest(f"period must be one of {', '.join(PERIODS)}.", param="period")
        now = time.time()
        b = msgspec.convert(
            {
                "id": budget_id or f"bud_{ULID()}",
                "workspace_id": workspace_id,
                "level": level,
                "subject": subject,
                "period": period,
                "limit_nano": limit_nano,
                "created_at": now,
                "updated_at": now,
            },
            Budget,
        )
        p = self.p
        rows, _ = self.keys.execute(
            f"SELECT id FROM budgets WHERE level = {p} AND subject = {p} AND period = {p}",
            (level, subject, period),
        )
        if rows:
            raise Conflict(f"The {level} '{subject}' has a {period} budget already ({rows[0][0]}).")
        self.keys.execute(
            f"INSERT INTO budgets ({_COLUMNS}) VALUES ({', '.join([p] * 8)})",
            (b.id, b.workspace_id, b.level, b.subject, b.period, b.limit_nano, now, now),
        )
        return b

    def set_limit(self, budget_id: str, limit_nano: int) -> Budget:
        self.get(budget_id)
        p = self.p
        self.keys.execute(
            f"UPDATE budgets SET limit_nano = {p}, updated_at = {p} WHERE id = {p}",
            (limit_nano, time.time(), budget_id),
        )
        return self.get(budget_id)

    def delete(self, budget_id: str) -> Budget:
        b = self.get(budget_id)
        self.keys.execute(f"DELETE FROM budgets WHERE id = {self.p}", (budget_id,))
        return b

    def usage(self, budget: Budget, now: float | None = None) -> BudgetUsage:
        """The budget's current period (at `now`): used, reserved, when it ends."""
        start = period_start(budget.period, time.time() if now is None else now)
        rows, _ = self.keys.execute(self.keys.budget_sql.usage, (budget.id, start))
        used, reserved = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
        return BudgetUsage(budget, start, period_end(budget.period, start), used, reserved)

    def alerts(self, workspace_id: str | None = None) -> list[BudgetAlert]:
        rows, _ = self.keys.execute(
            "SELECT a.budget_id, a.period_start, a.threshold, a.usage_nano, a.limit_nano, "
            "a.created_at, a.sent_at, a.attempts, b.workspace_id FROM budget_alerts a "
            "LEFT JOIN budgets b ON b.id = a.budget_id ORDER BY a.created_at"
        )
        return [BudgetAlert(*r[:8]) for r in rows if workspace_id is None or r[8] == workspace_id]

    # -- a key's own limit (OpenRouter's `limit` and `limit_reset`) ----------------------

    def set_key_limit(self, key: ApiKey, limit_nano: int | None, limit_reset: str | None) -> None:
        """Make `limit` and `limit_reset` the key's one limit: its lifetime credit when
        `limit_reset` is None, else a key budget for that period (the old one removed)."""
        if limit_reset is not None and limit_reset not in PERIODS[:3]:
            raise BadRequest(
                "limit_reset must be daily, weekly, monthly or null.", param="limit_reset"
            )
        for period in PERIODS[:3]:
            if period != limit_reset and self.find(key_limit_id(key.id, period)):
                self.delete(key_limit_id(key.id, period))
        if limit_reset is None:
            self.keys.update(key.id, KeyEdit(credit_limit_nano=limit_nano, limit_reset=None))
            return
        self.keys.update(key.id, KeyEdit(credit_limit_nano=None, limit_reset=limit_reset))
        budget_id = key_limit_id(key.id, limit_reset)
        if limit_nano is None:
            if self.find(budget_id):
                self.delete(budget_id)
        elif self.find(budget_id):
            self.set_limit(budget_id, limit_nano)
        else:
            self.create(key.workspace_id, "key", key.id, limit_reset, limit_nano, budget_id)

    def key_limit(self, key: ApiKey) -> Budget | None:
        """The key's resetting limit, if it has one."""
        if key.limit_reset is None:
            return None
        return self.find(key_limit_id(key.id, key.limit_reset))


def _budget(row: tuple[object, ...]) -> Budget:
    return msgspec.convert(
        dict(zip((*_FIELDS, "updated_at"), row, strict=True)), Budget, strict=False
    )
