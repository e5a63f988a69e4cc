"""Who is reading: one rule for every endpoint that shows ledger data.

Roles:
- admin (Bearer = the admin key): everything.
- key (a tokenport key): its own generations and feedback; `GET /api/v1/key` has its own
  usage and spend; rankings only in the sections the operator made public.
- anonymous with `require_keys = true`: 401 everywhere, except the rankings sections named
  in `public_rankings` (and the dashboard that draws them), when there are any.
- anonymous in open mode (`require_keys = false`, the laptop default): the machine's own
  user, who may read everything, as before. A generation made with a key is still readable
  only by that key or the admin, since a key marks a tenant even on an open gateway.

Credentials come as `Authorization: Bearer ...`, or as HTTP Basic with the key as password,
which is what a browser sends after the dashboard's login prompt.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from tokenport.security.admission import Admission, bearer
from tokenport.security.keys import ApiKey

Role = Literal["admin", "key", "anonymous"]
BASIC_CHALLENGE = 'Basic realm="tokenport", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class Viewer:
    role: Role
    key: ApiKey | None = None
    open_mode: bool = False  # anonymous on a gateway that does not require keys

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key is not None else None

    @property
    def sees_everything(self) -> bool:
        return self.role == "admin" or (self.role == "anonymous" and self.open_mode)

    def owns(self, owner_key_id: str | None) -> bool:
        """May read or score a generation recorded under `owner_key_id`."""
        if self.role == "admin":
            return True
        if owner_key_id is not None:
            return self.key_id == owner_key_id
        return self.open_mode  # an anonymous generation: only an open gateway has those


def credential(authorization: str | None) -> str | None:
    """The token from a Bearer header, or the password of a Basic one."""
    token = bearer(authorization)
    if token is not None or not authorization:
        return token
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


class Access:
    def __init__(
        self,
        admission: Callable[[], Admission],
        admin_key: str | None,
        *,
        require_keys: bool,
        public_rankings: Collection[str] = (),
    ) -> None:
        self._admission = admission
        self._admin_key = admin_key
        self.require_keys = require_keys
        self.public_rankings = frozenset(public_rankings)

    async def viewer(self, authorization: str | None, *, public: bool = False) -> Viewer:
        """The caller's role. Raises Unauthorized for a bad key, and for no key when keys
        are required, unless `public` (a rankings read with public sections configured)."""
        token = credential(authorization)
        admin = self._admin_key
        if token and admin and hmac.compare_digest(token.encode(), admin.encode()):
            return Viewer("admin")
        if token is None and self.require_keys and public and self.public_rankings:
            return Viewer("anonymous")
        key = await self._admission().authenticate(f"Bearer {token}" if token else None)
        if key is not None:
            return Viewer("key", key)
        return Viewer("anonymous", open_mode=not self.require_keys)

    def rankings_sections(self, viewer: Viewer, asked: Collection[str]) -> tuple[str, ...]:
        """The asked sections this viewer may read, in the asked order."""
        if viewer.sees_everything:
            return tuple(asked)
        return tuple(s for s in asked if s in self.public_rankings)
