"""Workspaces and their members: who owns keys and budgets, and who may manage them.

A workspace owns its keys and budgets. The `default` workspace always exists (migration
`w001_workspaces` moved every key of an older gateway into it), so a single-team install
sees no change. Members have one role in their workspace:

- `admin`: everything in the workspace (keys, budgets, members);
- `member`: create and see their own keys, and see the workspace's usage;
- `viewer`: read only.

The gateway's admin key stands above every workspace. A member acts through a *management*
key (`scope = 'management'`, owned by the member): it calls the management API and can
never make an inference request, and an inference key can never manage anything.
"""

from __future__ import annotations

import re
import time
from typing import Literal

import msgspec
from ulid import ULID

from tokenport.errors import BadRequest, Conflict, NotFound
from tokenport.security.keystore import KeyStore

Role = Literal["admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "member", "viewer")
DEFAULT_WORKSPACE = "default"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Workspace(msgspec.Struct, frozen=True):
    id: str
    name: str
    created_at: float


class Member(msgspec.Struct, frozen=True):
    id: str
    workspace_id: str
    email: str
    role: Role
    created_at: float
    name: str | None = None


class WorkspaceStore:
    """Workspaces and members, on the key database (one connection with `KeyStore`)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.p = keys.param

    # -- workspaces ----------------------------------------------------------------------

    def create(self, workspace_id: str, name: str) -> Workspace:
        if not _SLUG.match(workspace_id):
            raise BadRequest(
                "A workspace id is 1-63 lowercase letters, digits, '-' or '_'.", param="id"
            )
        if self.find(workspace_id) is not None:
            raise Conflict(f"A workspace '{workspace_id}' exists already.")
        ws = Workspace(workspace_id, name, time.time())
        p = self.p
        self.keys.execute(
            f"INSERT INTO workspaces (id, name, created_at) VALUES ({p}, {p}, {p})",
            (ws.id, ws.name, ws.created_at),
        )
        return ws

    def find(self, workspace_id: str) -> Workspace | None:
        rows, _ = self.keys.execute(
            f"SELECT id, name, created_at FROM workspaces WHERE id = {self.p} "
            "AND deleted_at IS NULL",
            (workspace_id,),
        )
        return Workspace(*rows[0]) if rows else None

    def get(self, workspace_id: str) -> Workspace:
        ws = self.find(workspace_id)
        if ws is None:
            raise NotFound(f"No workspace '{workspace_id}'.")
        return ws

    def all(self) -> list[Workspace]:
        rows, _ = self.keys.execute(
            "SELECT id, name, created_at FROM workspaces WHERE deleted_at IS NULL ORDER BY id"
        )
        return [Workspace(*r) for r in rows]

    def delete(self, workspace_id: str, *, force: bool = False) -> Workspace:
        """Delete a workspace; one with live keys only with `force` (its keys are revoked)."""
        ws = self.get(workspace_id)
        if workspace_id == DEFAULT_WORKSPACE:
            raise BadRequest("The default workspace cannot be deleted.")
        live = [k for k in self.keys.list(workspace_id) if k.state(time.time()) == "active"]
        if live and not force:
            raise Conflict(
                f"The workspace '{workspace_id}' has {len(live)} live key(s): "
                "delete it with force=true to revoke them too."
            )
        p, now = self.p, time.time()
        self.keys.execute(
            f"UPDATE api_keys SET revoked_at = {p} WHERE workspace_id = {p} AND revoked_at IS NULL",
            (now, workspace_id),
        )
        self.keys.execute(f"UPDATE workspaces SET deleted_at = {p} WHERE id = {p}", (now, ws.id))
        return ws

    # -- members -------------------------------------------------------------------------

    def add_member(
        self, workspace_id: str, email: str, role: Role, name: str | None = None
    ) -> Member:
        self.get(workspace_id)
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}.", param="role")
        if self._member_by_email(workspace_id, email) is not None:
            raise Conflict(f"'{email}' is a member of '{workspace_id}' already.")
        m = Member(f"mem_{ULID()}", workspace_id, email, role, time.time(), name)
        p = self.p
        self.keys.execute(
            "INSERT INTO members (id, workspace_id, email, name, role, created_at) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
            (m.id, m.workspace_id, m.email, m.name, m.role, m.created_at),
        )
        return m

    def member(self, member_id: str) -> Member:
        rows, _ = self.keys.execute(f"{_MEMBER_SELECT} WHERE id = {self.p}", (member_id,))
        if not rows:
            raise NotFound(f"No member '{member_id}'.")
        return _member(rows[0])

    def members(self, workspace_id: str) -> list[Member]:
        rows, _ = self.keys.execute(
            f"{_MEMBER_SELECT} WHERE workspace_id = {self.p} ORDER BY created_at", (workspace_id,)
        )
        return [_member(r) for r in rows]

    def set_role(self, member_id: str, role: Role) -> Member:
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}.", param="role")
        self.member(member_id)
        self.keys.execute(
            f"UPDATE members SET role = {self.p} WHERE id = {self.p}", (role, member_id)
        )
        return self.member(member_id)

    def remove_member(self, member_id: str) -> Member:
        """Remove a member and revoke their keys."""
        m = self.member(member_id)
        p = self.p
        self.keys.execute(
            f"UPDATE api_keys SET revoked_at = {p} WHERE member_id = {p} AND revoked_at IS NULL",
            (time.time(), member_id),
        )
        self.keys.execute(f"DELETE FROM members WHERE id = {p}", (member_id,))
        return m

    def _member_by_email(self, workspace_id: str, email: str) -> Member | None:
        rows, _ = self.keys.execute(
            f"{_MEMBER_SELECT} WHERE workspace_id = {self.p} AND email = {self.p}",
            (workspace_id, email),
        )
        return _member(rows[0]) if rows else None


_MEMBER_SELECT = "SELECT id, workspace_id, email, role, created_at, name FROM members"


def _member(row: tuple[object, ...]) -> Member:
    return msgspec.convert(
        dict(zip(("id", "workspace_id", "email", "role", "created_at", "name"), row, strict=True)),
        Member,
    )
