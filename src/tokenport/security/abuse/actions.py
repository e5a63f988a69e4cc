"""Actions on keys: decided by policy from a scan, or by an admin; logged with their evidence;
reversible. Table `abuse_actions` (db/schema/abuse.py).

This is admission's side: what is in force (`ActionStore.in_force`, cached by `guard.py`).
Writing actions, by policy or by hand, is the scan wing's (`abusescan/action_log.py`).

A key's action in force is its latest one that nobody reversed. Reversing is an admin's
word on that key: a later scan does not act on the key again automatically (its score and
reasons still show in every scan), until an admin acts on it by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from tokenport.db import Database, migrate

Kind = Literal["flag", "throttle", "review", "block"]
# Severity: a stronger action replaces a weaker one in force; never the other way round.
SEVERITY: dict[str, int] = {"observe": 0, "flag": 1, "throttle": 2, "review": 3, "block": 4}

COLUMNS = (
    "id, key_id, action, score, cluster, reasons, created_at, created_by, reversed_at, "
    "reversed_by, note"
)


class Action(msgspec.Struct, frozen=True):
    id: str
    key_id: str
    action: str
    score: float
    cluster: str | None
    reasons: list[str]
    created_at: float
    created_by: str
    reversed_at: float | None = None
    reversed_by: str | None = None
    note: str | None = None

    @property
    def in_force(self) -> bool:
        return self.reversed_at is None


def row_action(r: Sequence[object]) -> Action:
    return Action(
        id=str(r[0]),
        key_id=str(r[1]),
        action=str(r[2]),
        score=float(r[3]),  # type: ignore[arg-type]
        cluster=r[4] if r[4] is None else str(r[4]),
        reasons=msgspec.json.decode(str(r[5]), type=list[str]),
        created_at=float(r[6]),  # type: ignore[arg-type]
        created_by=str(r[7]),
        reversed_at=None if r[8] is None else float(r[8]),  # type: ignore[arg-type]
        reversed_by=None if r[9] is None else str(r[9]),
        note=None if r[10] is None else str(r[10]),
    )


class ActionStore:
    def __init__(self, database_url: str) -> None:
        self.db = Database(database_url, readonly=False, what="ledger database")
        self._migrated = False

    def _ready(self) -> Database:
        if not self._migrated:
            migrate(self.db)
            self._migrated = True
        return self.db

    def close(self) -> None:
        self.db.close()

    def latest(self) -> dict[str, Action]:
        """Each key's latest action (in force or reversed)."""
        out: dict[str, Action] = {}
        rows = self._ready().rows(f"SELECT {COLUMNS} FROM abuse_actions ORDER BY created_at, id")
        for r in rows:
            a = row_action(r)
            out[a.key_id] = a
        return out

    def in_force(self) -> dict[str, Action]:
        return {k: a for k, a in self.latest().items() if a.in_force}
