"""Blocking access to the key table; the async side calls it through `asyncio.to_thread`.

One `tokenport.db.Database` connection per store, so every database failure surfaces as
`ServiceUnavailable` naming the database, never as a driver traceback.
Each store is one reservation holder (`security/holds.py`): its reservations are recorded
under its id, so that if this process dies another can give them back.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tokenport.db import Database, Rows, Tx, migrate
from tokenport.errors import NotFound
from tokenport.ledger.charges import Charge, charge_now, prune_markers
from tokenport.ledger.record import KeyHold
from tokenport.security.holds import HoldQueries
from tokenport.security.keys import (
    ApiKey,
    KeyQueries,
    NewKey,
    hash_key,
    make_key,
    row_to_key,
    to_nano,
)

_T = TypeVar("_T")


class KeyStore:
    def __init__(self, database_url: str, *, connect_timeout: int = 5) -> None:
        self.url = database_url
        self._db = Database(
            database_url, readonly=False, what="key database", connect_timeout=connect_timeout
        )
        self.key_sql = KeyQueries(self._db.param)
        self.hold_sql = HoldQueries(self._db.param)
        # Unique per store: host and pid for an operator reading the table, a random tail
        # so that a recycled pid is a new holder.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(6).hex()}"
        self._registered = False
        self._migrated = False

    def _run(self, sql: str, params: Sequence[object] = ()) -> tuple[Rows, int]:
        if not self._migrated:
            # Lazily, so a database that is down at start-up only fails the requests that
            # need it, and the table appears once it is back.
            self.migrate()
        return self._db.execute(sql, params)

    def migrate(self) -> list[str]:
        done = migrate(self._db)
        self._migrated = True
        return done

    def close(self) -> None:
        self._db.close()

    # -- keys ----------------------------------------------------------------------------

    def create(self, name: str, **settings: Any) -> NewKey:
        new, values = make_key(name, **settings)
        self._run(self.key_sql.insert, values)
        return new

    def by_secret(self, secret: str) -> ApiKey | None:
        rows, _ = self._run(self.key_sql.by_hash, (hash_key(secret),))
        return row_to_key(rows[0]) if rows else None

    def get(self, key_id: str) -> ApiKey:
        rows, _ = self._run(self.key_sql.by_id, (key_id,))
        if not rows:
            raise NotFound(f"No key with id '{key_id}'.")
        return row_to_key(rows[0])

    def list(self) -> list[ApiKey]:
        rows, _ = self._run(self.key_sql.all)
        return [row_to_key(r) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        self.get(key_id)
        self._run(self.key_sql.revoke, (time.time(), key_id))
        return self.get(key_id)

    def top_up(self, key_id: str, usd: float) -> ApiKey:
        self.get(key_id)
        self._run(self.key_sql.top_up, (to_nano(usd), key_id))
        return self.get(key_id)

    # -- credit --------------------------------------------------------------------------

    def reserve(self, key_id: str, nano: int) -> bool:
        def body(tx: Tx) -> bool:
            if tx.run(self.key_sql.reserve, (nano, key_id, nano)) != 1:
                return False
            if not self._registered:  # before the first hold, so a sweeper can find it
                tx.run(self.hold_sql.seen, (self.holder, time.time()))
            tx.run(self.hold_sql.add, (self.holder, key_id, nano))
            return True

        ok = self._tx(body)
        self._registered = self._registered or ok
        return ok

    def settle(
        self, key_id: str, reserved_nano: int, actual_nano: int, record_id: str | None = None
    ) -> bool:
        """Replace a reservation with the actual cost. With `record_id` (the request's ledger
        id) it is charged once however many times this runs, and not at all if the ledger
        already charged it (`ledger/charges.py`); returns whether it charged now."""
        charge = Charge(key_id, KeyHold(self.holder, reserved_nano), actual_nano, record_id)
        return self._tx(lambda tx: charge_now(tx, charge))

    # -- holders (security/holds.py) -----------------------------------------------------

    def heartbeat(self) -> None:
        """Say this holder is alive (re-registering it if a sweeper removed it)."""
        self._run(self.hold_sql.seen, (self.holder, time.time()))
        self._registered = True

    def sweep(self, ttl_s: float) -> int:
        """Give back the holds of holders not seen for `ttl_s` seconds; return how many."""
        cutoff = time.time() - ttl_s
        rows, _ = self._run(self.hold_sql.stale, (cutoff, self.holder))
        released = sum(self._release(holder, cutoff) for (holder,) in rows)
        orphans, _ = self._run(self.hold_sql.orphans)
        released += sum(self._release_orphan(holder) for (holder,) in orphans)
        self._tx(lambda tx: prune_markers(tx, time.time()))
        return released

    def retire(self) -> None:
        """On a clean stop: give back whatever this holder still holds and remove it."""
        self._release(self.holder, None)
        self._registered = False

    def _release(self, holder: str, older_than: float | None) -> int:
        def body(tx: Tx) -> int:
            if older_than is None:
                tx.run(self.hold_sql.forget, (holder,))
            elif tx.run(self.hold_sql.claim, (holder, older_than)) != 1:
                return 0  # another sweeper got it first, or it came back to life
            self._give_back(tx, holder)
            return 1

        return self._tx(body)

    def _release_orphan(self, holder: str) -> int:
        def body(tx: Tx) -> int:
            if tx.rows(self.hold_sql.known, (holder,)):
                return 0  # it heartbeated since the orphans were listed
            return 1 if self._give_back(tx, holder) else 0

        return self._tx(body)

    def _give_back(self, tx: Tx, holder: str) -> int:
        """Release each of `holder`'s holds that this transaction claims; return how many.

        A hold is claimed by deleting it at the amount just read, so a settle racing the
        sweep (on PostgreSQL, where the read takes no lock) leaves its row in place: it is
        then an orphan, given back at its new amount by the next sweep.
        """
        got = 0
        for key_id, nano in tx.rows(self.hold_sql.held, (holder,)):
            if tx.run(self.hold_sql.take_all, (holder, key_id, nano)) == 1:
                tx.run(self.hold_sql.release, (nano, nano, key_id))
                got += 1
        return got

    def _tx(self, body: Callable[[Tx], _T]) -> _T:
        """Run `body` in one transaction (on SQLite, holding the write lock)."""
        if not self._migrated:
            self.migrate()
        with self._db.transaction() as tx:
            return body(tx)
