"""Where stored Responses answers live: `store: true` and `previous_response_id`.

Each entry is scoped to the key that made it (None for an open gateway's anonymous
callers, who share one scope) and expires after the configured TTL. The gateway keeps them
in its database (`SqlResponseStore`), so every replica and worker reads what any other
stored; `MemoryResponseStore` is one process's, for tests and tools.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Protocol

import msgspec

from tokenport.db import Database, migrate

log = logging.getLogger(__name__)


class StoredResponse(msgspec.Struct, frozen=True):
    id: str
    key_id: str | None
    created_at: float
    expires_at: float
    response: bytes  # the response object, as the client got it
    conversation: bytes  # the chat turns that led to it and its answer (JSON list[Message])


class ResponseStore(Protocol):
    async def put(self, stored: StoredResponse) -> None: ...

    async def get(self, rid: str, key_id: str | None, now: float) -> StoredResponse | None:
        """The entry if it exists, belongs to `key_id` and has not expired."""
        ...

    async def delete(self, rid: str, key_id: str | None) -> bool: ...

    def close(self) -> None: ...


class MemoryResponseStore:
    """One process's stored responses, oldest dropped first past `limit`."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()

    async def put(self, stored: StoredResponse) -> None:
        self._items[stored.id] = stored
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    async def get(self, rid: str, key_id: str | None, now: float) -> StoredResponse | None:
        found = self._items.get(rid)
        if found is None or found.key_id != key_id or found.expires_at <= now:
            return None
        return found

    async def delete(self, rid: str, key_id: str | None) -> bool:
        found = self._items.get(rid)
        if found is None or found.key_id != key_id:
            return False
        del self._items[rid]
        return True

    def close(self) -> None:
        self._items.clear()


class SqlResponseStore:
    """Stored responses in the ledger's database, through `tokenport.db`."""

    # Expired rows are deleted every this many stores (cheap: an index range).
    PRUNE_EVERY = 200

    def __init__(self, url: str) -> None:
        self.db = Database(url, readonly=False, what="response store")
        self.p = self.db.param
        self._migrated = False
        self._puts = 0

    def _ready(self) -> None:
        if not self._migrated:
            # Lazily: a database that is down at start only fails the requests that need it.
            migrate(self.db)
            self._migrated = True

    def _put(self, s: StoredResponse) -> None:
        self._ready()
        p = self.p
        self.db.execute(
            f"INSERT INTO responses (id, key_id, created_at, expires_at, response, conversation) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
            (
                s.id,
                s.key_id or "",
                s.created_at,
                s.expires_at,
                s.response.decode(),
                s.conversation.decode(),
            ),
        )
        self._puts += 1
        if self._puts % self.PRUNE_EVERY == 0:
            self.db.execute(f"DELETE FROM responses WHERE expires_at < {p}", (time.time(),))

    def _get(self, rid: str, key_id: str | None, now: float) -> StoredResponse | None:
        self._ready()
        p = self.p
        rows = self.db.rows(
            "SELECT id, key_id, created_at, expires_at, response, conversation FROM responses "
            f"WHERE id = {p} AND key_id = {p} AND expires_at > {p}",
            (rid, key_id or "", now),
        )
        if not rows:
            return None
        rid, owner, created, expires, response, conversation = rows[0]
        return StoredResponse(
            rid, owner or None, created, expires, response.encode(), conversation.encode()
        )

    def _delete(self, rid: str, key_id: str | None) -> bool:
        self._ready()
        p = self.p
        _, count = self.db.execute(
            f"DELETE FROM responses WHERE id = {p} AND key_id = {p}", (rid, key_id or "")
        )
        return count > 0

    async def put(self, stored: StoredResponse) -> None:
        await asyncio.to_thread(self._put, stored)

    async def get(self, rid: str, key_id: str | None, now: float) -> StoredResponse | None:
        return await asyncio.to_thread(self._get, rid, key_id, now)

    async def delete(self, rid: str, key_id: str | None) -> bool:
        return await asyncio.to_thread(self._delete, rid, key_id)

    def close(self) -> None:
        self.db.close()
