"""Guardrail policies as stored: one per workspace or key (`security/guardrails.py`)."""

from __future__ import annotations

import time

import msgspec

from tokenport.errors import NotFound
from tokenport.security.guardrails import GuardrailBook, GuardrailPolicy, StoredPolicy
from tokenport.security.keystore import KeyStore

_SELECT = "SELECT level, subject, workspace_id, policy, updated_at FROM guardrails"


class GuardrailStore:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.p = keys.param

    def all_policies(self) -> list[StoredPolicy]:
        rows, _ = self.keys.execute(_SELECT + " ORDER BY level, subject")
        return [_stored(r) for r in rows]

    def book(self) -> GuardrailBook:
        return GuardrailBook(self.all_policies())

    def find(self, level: str, subject: str) -> StoredPolicy | None:
        p = self.p
        rows, _ = self.keys.execute(
            f"{_SELECT} WHERE level = {p} AND subject = {p}", (level, subject)
        )
        return _stored(rows[0]) if rows else None

    def put(
        self, level: str, subject: str, workspace_id: str, policy: GuardrailPolicy
    ) -> StoredPolicy:
        p, now = self.p, time.time()
        body = msgspec.json.encode(policy).decode()
        self.keys.execute(
            "INSERT INTO guardrails (level, subject, workspace_id, policy, updated_at) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (level, subject) DO UPDATE "
            "SET policy = excluded.policy, updated_at = excluded.updated_at",
            (level, subject, workspace_id, body, now),
        )
        return StoredPolicy(level, subject, workspace_id, policy, now)  # type: ignore[arg-type]

    def delete(self, level: str, subject: str) -> StoredPolicy:
        found = self.find(level, subject)
        if found is None:
            raise NotFound(f"No guardrail for the {level} '{subject}'.")
        p = self.p
        self.keys.execute(
            f"DELETE FROM guardrails WHERE level = {p} AND subject = {p}", (level, subject)
        )
        return found


def _stored(row: tuple[object, ...]) -> StoredPolicy:
    level, subject, ws, policy, updated = row
    return msgspec.convert(
        {
            "level": level,
            "subject": subject,
            "workspace_id": ws,
            "policy": msgspec.json.decode(str(policy)),
            "updated_at": updated,
        },
        StoredPolicy,
    )
