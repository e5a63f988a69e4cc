"""Actions on keys: decided by policy from a scan, or by an admin; logged with their evidence;
reversible. Table `abuse_actions` (db/schema/abuse.py).

A key's action in force is its latest one that nobody reversed. Reversing is an admin's
word on that key: a later scan does not act on the key again automatically (its score and
reasons still show in every scan), until an admin acts on it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import msgspec
from ulid import ULID

from tokenport.config import AbuseConfig, AbuseRule
from tokenport.db import Database, migrate
from tokenport.errors import BadRequest, NotFound

Kind = Literal["flag", "throttle", "review", "block"]
# Severity: a stronger action replaces a weaker one in force; never the other way round.
SEVERITY: dict[str, int] = {"observe": 0, "flag": 1, "throttle": 2, "review": 3, "block": 4}

_COLUMNS = (
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


def _row(r: Sequence[object]) -> Action:
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


def rules(cfg: AbuseConfig) -> list[AbuseRule]:
    """The ladder, highest score first; `policy` at `threshold` when none is configured."""
    ladder = cfg.rules or [AbuseRule(min_score=cfg.threshold, action=cfg.policy)]
    return sorted(ladder, key=lambda r: (-r.min_score, -SEVERITY[r.action]))


def decide(cfg: AbuseConfig, score: float) -> str:
    for rule in rules(cfg):
        if score >= rule.min_score:
            return rule.action
    return "observe"


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

    def all(self, limit: int = 10_000) -> list[Action]:
        order = "ORDER BY created_at DESC, id DESC"
        rows = self._ready().rows(
            f"SELECT {_COLUMNS} FROM abuse_actions {order} LIMIT {int(limit)}"
        )
        return [_row(r) for r in rows]

    def latest(self) -> dict[str, Action]:
        """Each key's latest action (in force or reversed)."""
        out: dict[str, Action] = {}
        rows = self._ready().rows(f"SELECT {_COLUMNS} FROM abuse_actions ORDER BY created_at, id")
        for r in rows:
            a = _row(r)
            out[a.key_id] = a
        return out

    def in_force(self) -> dict[str, Action]:
        return {k: a for k, a in self.latest().items() if a.in_force}

    def record(
        self,
        key_id: str,
        action: str,
        score: float,
        cluster: str | None,
        reasons: list[str],
        by: str,
        note: str | None = None,
    ) -> Action:
        if action not in SEVERITY or action == "observe":
            raise BadRequest(f"Unknown action {action!r}: flag, throttle, review or block.")
        now = time.time()
        a = Action(str(ULID()), key_id, action, score, cluster, reasons, now, by, note=note)
        p = self.db.param
        self._ready().execute(
            f"INSERT INTO abuse_actions ({_COLUMNS}) VALUES ({', '.join([p] * 11)})",
            (
                a.id,
                a.key_id,
                a.action,
                a.score,
                a.cluster,
                msgspec.json.encode(a.reasons).decode(),
                a.created_at,
                a.created_by,
                None,
                None,
                a.note,
            ),
        )
        return a

    def reverse(self, ident: str, by: str, note: str | None = None) -> list[Action]:
        """Reverse an action by its id, or every action in force on a key by the key's id."""
        p = self.db.param
        db = self._ready()
        now = time.time()
        _, changed = db.execute(
            f"UPDATE abuse_actions SET reversed_at = {p}, reversed_by = {p}, "
            f"note = COALESCE({p}, note) WHERE (id = {p} OR key_id = {p}) AND reversed_at IS NULL",
            (now, by, note, ident, ident),
        )
        if not changed:
            known = db.rows(
                f"SELECT 1 FROM abuse_actions WHERE id = {p} OR key_id = {p}", (ident, ident)
            )
            if not known:
                raise NotFound(f"No abuse action on '{ident}' (an action id or a key id).")
        rows = db.rows(
            f"SELECT {_COLUMNS} FROM abuse_actions WHERE (id = {p} OR key_id = {p}) "
            f"AND reversed_at = {p}",
            (ident, ident, now),
        )
        return [_row(r) for r in rows]
