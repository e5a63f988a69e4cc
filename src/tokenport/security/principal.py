"""Who is calling the management API, and what they may do.

- The gateway's admin key (or the CLI, on the machine) is `admin` above every workspace.
- A *management* key acts in its workspace: as its member's role (`admin`, `member`,
  `viewer`), or as the workspace's admin when it belongs to no member.
- An *inference* key cannot manage anything (403), and a management key cannot make
  inference requests (`Admission.check_models`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.errors import Forbidden
from tokenport.security.keys import ApiKey
from tokenport.security.workspaces import Role


@dataclass(frozen=True, slots=True)
class Principal:
    actor: str  # "admin", "cli", or the acting management key's id
    role: Role
    workspace_id: str | None = None  # None: every workspace (the gateway's admin)
    member_id: str | None = None

    @property
    def above_all(self) -> bool:
        return self.workspace_id is None

    def sees(self, workspace_id: str) -> bool:
        return self.workspace_id is None or self.workspace_id == workspace_id

    def sees_key(self, key: ApiKey) -> bool:
        """Admins and viewers see their workspace's keys; a member only their own."""
        if not self.sees(key.workspace_id):
            return False
        return self.role != "member" or key.member_id == self.member_id

    def require_admin(self, workspace_id: str | None = None) -> None:
        if self.role != "admin" or (workspace_id is not None and not self.sees(workspace_id)):
            raise Forbidden("This action needs the workspace's admin role.")

    def require_gateway_admin(self) -> None:
        if not self.above_all:
            raise Forbidden("This action needs the gateway's admin key.")

    def require_write_key(self, key: ApiKey) -> None:
        """May change `key`: a workspace admin, or the member who owns it."""
        if self.role == "admin" and self.sees(key.workspace_id):
            return
        if self.role == "member" and self.sees_key(key):
            return
        raise Forbidden(f"This {self.role} may not change the key '{key.id}'.")


ADMIN = Principal("admin", "admin")
CLI = Principal("cli", "admin")


def management_principal(key: ApiKey, member_role: Role | None) -> Principal:
    """The principal a management key acts as (`member_role`: its member's, if any)."""
    if key.scope != "management":
        raise Forbidden(
            f"The key '{key.prefix}...' is an inference key: it cannot manage anything. "
            "Use a management key or the gateway's admin key."
        )
    return Principal(key.id, member_role or "admin", key.workspace_id, key.member_id)
