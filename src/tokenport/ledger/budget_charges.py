"""Charging a request to the budget periods it reserved on (`security/budgets.py`).

A request's hold names its budget periods as slots, "budget_id@period_start". Its charge
takes the hold back from each slot's `budget_holds` row and adds the actual cost to the
slot's `budget_usage` row: the row of the period the request was *admitted* in, so a request
that ends after a period boundary is still charged to its own period. A hold a sweeper
already gave back (its holder taken for dead) only adds the usage, as for keys.

Each charge that leaves a period at or past 50, 80 or 100% of its budget records that alert
once (`budget_alerts`, one row per budget, period and threshold); the gateway sends them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from tokenport.db import Tx

ALERT_THRESHOLDS = (50, 80, 100)


def parse_slot(slot: str) -> tuple[str, int]:
    budget_id, _, start = slot.rpartition("@")
    return budget_id, int(start)


def slot_name(budget_id: str, period_start: int) -> str:
    return f"{budget_id}@{period_start}"


def lock_slots(tx: Tx, slots: Iterable[str]) -> None:
    """On PostgreSQL, lock the slots' usage rows in one order, so that charges and
    reservations touching several budgets never wait on each other in a circle."""
    if tx.dialect != "postgres":
        return
    p = tx.param
    for budget_id, start in sorted({parse_slot(s) for s in slots}):
        tx.rows(
            f"SELECT 1 FROM budget_usage WHERE budget_id = {p} AND period_start = {p} FOR UPDATE",
            (budget_id, start),
        )


def charge_slots(tx: Tx, holder: str, reserved_nano: int, slots: list[str], actual: int) -> None:
    """Replace the hold on each slot with the actual cost, and record crossed alerts."""
    p = tx.param
    r = reserved_nano
    for budget_id, start in sorted(parse_slot(s) for s in slots):
        took = tx.run(
            f"UPDATE budget_holds SET reserved_nano = reserved_nano - {p} WHERE holder = {p} "
            f"AND budget_id = {p} AND period_start = {p} AND reserved_nano >= {p}",
            (r, holder, budget_id, start, r),
        )
        give_back = r if took == 1 else 0
        rows = tx.rows(
            f"UPDATE budget_usage SET reserved_nano = CASE WHEN reserved_nano > {p} "
            f"THEN reserved_nano - {p} ELSE 0 END, usage_nano = usage_nano + {p} "
            f"WHERE budget_id = {p} AND period_start = {p} RETURNING usage_nano, "
            "(SELECT limit_nano FROM budgets WHERE budgets.id = budget_usage.budget_id)",
            (give_back, give_back, actual, budget_id, start),
        )
        if rows and rows[0][1] is not None and actual > 0:
            _record_alerts(tx, budget_id, start, int(rows[0][0]), int(rows[0][1]))


def _record_alerts(tx: Tx, budget_id: str, start: int, usage: int, limit: int) -> None:
    p = tx.param
    for threshold in ALERT_THRESHOLDS:
        # Integer arithmetic: 100% means usage >= limit exactly, never a float's guess.
        if limit > 0 and usage * 100 >= limit * threshold:
            tx.run(
                "INSERT INTO budget_alerts (budget_id, period_start, threshold, usage_nano, "
                f"limit_nano, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (budget_id, period_start, threshold) DO NOTHING",
                (budget_id, start, threshold, usage, limit, time.time()),
            )
