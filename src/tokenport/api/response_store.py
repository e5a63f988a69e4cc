"""Where stored Responses answers live: `store: true` and `previous_response_id`.

Each entry is scoped to the key that made it (None for an open gateway's anonymous
callers, who share one scope) and expires after the configured TTL.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

import msgspec


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
