"""The abuse actions' log: record an action (by policy, `policy.py`, or by an admin), reverse
one, list them all. Admission only reads what is in force (`security/abuse/actions.py`).
"""

from __future__ import annotations

import time

import msgspec
from ulid import ULID

from tokenport.errors import BadRequest, NotFound
from tokenport.security.abuse.actions import COLUMNS, SEVERITY, Action, ActionStore, row_action


class ActionLog(ActionStore):
    def all(self, limit: int = 10_000) -> list[Action]:
        order = "ORDER BY created_at DESC, id DESC"
        rows = self._ready().rows(f"SELECT {COLUMNS} FROM abuse_actions {order} LIMIT {int(limit)}")
        return [row_action(r) for r in rows]

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
            f"INSERT INTO abuse_actions ({COLUMNS}) VALUES ({', '.join([p] * 11)})",
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
            f"SELECT {COLUMNS} FROM abuse_actions WHERE (id = {p} OR key_id = {p}) "
            f"AND reversed_at = {p}",
            (ident, ident, now),
        )
        return [row_action(r) for r in rows]
