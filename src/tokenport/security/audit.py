"""The audit log: every admin action, who did it, on what, the object before and after.

Append-only: this module only inserts and reads; nothing in tokenport updates or deletes
a row, and the API has no route that could (`GET /api/v1/audit` reads it).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from ulid import ULID

from tokenport.security.keystore import KeyStore

_encoder = msgspec.json.Encoder()


class AuditEntry(msgspec.Struct, frozen=True):
    id: str
    at: float
    actor: str  # "admin" (the gateway's admin key) or the acting key's id
    action: str  # e.g. "key.create", "budget.update"
    workspace_id: str | None = None
    target: str | None = None
    before: Any = None  # the object as JSON before the action (None: created)
    after: Any = None  # and after (None: deleted)


class AuditLog:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.p = keys.param

    def append(
        self,
        actor: str,
        action: str,
        *,
        workspace_id: str | None,
        target: str | None,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            f"aud_{ULID()}", time.time(), actor, action, workspace_id, target, before, after
        )
        p = self.p
        self.keys.execute(
            "INSERT INTO audit_log (id, at, actor, workspace_id, action, target, before, after) "
            f"VALUES ({', '.join([p] * 8)})",
            (
                entry.id,
                entry.at,
                actor,
                workspace_id,
                action,
                target,
                None if before is None else _encoder.encode(before).decode(),
                None if after is None else _encoder.encode(after).decode(),
            ),
        )
        return entry

    def list(self, workspace_id: str | None = None, limit: int = 500) -> list[AuditEntry]:
        p = self.p
        where = f"WHERE workspace_id = {p} " if workspace_id is not None else ""
        params: tuple[object, ...] = (workspace_id,) if workspace_id is not None else ()
        rows, _ = self.keys.execute(
            "SELECT id, at, actor, action, workspace_id, target, before, after FROM audit_log "
            f"{where}ORDER BY id DESC LIMIT {int(limit)}",
            params,
        )
        return [
            AuditEntry(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                None if r[6] is None else msgspec.json.decode(r[6]),
                None if r[7] is None else msgspec.json.decode(r[7]),
            )
            for r in rows
        ]
