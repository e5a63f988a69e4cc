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
from tokenport.ledger.budget_charges import parse_slot
from tokenport.ledger.charges import Charge, charge_now, prune_markers
from tokenport.ledger.record import KeyHold
from tokenport.security.budgets import BudgetQueries
from tokenport.security.holds import HoldQueries
from tokenport.security.keys import (
    ApiKey,
    KeyEdit,
    KeyQueries,
    NewKey,
    hash_key,
    make_key,
    row_to_key,
    to_nano,
)

_T = TypeVar("_T")


class _Refused(Exception):
    """Rolls a reservation's transaction back: `what` ran out ("key" or a budget id)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class KeyStore:
    def __init__(self, database_url: str, *, connect_timeout: int = 5) -> None:
        self.url = database_url
        self._db = Database(
            database_url, readonly=False, what="key database", connect_timeout=connect_timeout
        )
        self.key_sql = KeyQueries(self._db.param)
        self.hold_sql = HoldQueries(self._db.param)
        self.budget_sql = BudgetQueries(self._db.param)
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

    @property
    def dialect(self) -> str:
        return self._db.dialect

    @property
    def param(self) -> str:
        return self._db.param

    def execute(self, sql: str, params: Sequence[object] = ()) -> tuple[Rows, int]:
        """One statement on the key database (the company stores share this connection)."""
        return self._run(sql, params)

    def transaction(self, body: Callable[[Tx], _T]) -> _T:
        return self._tx(body)

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

    def list(self, workspace_id: str | None = None) -> list[ApiKey]:
        rows, _ = self._run(self.key_sql.all)
        keys = [row_to_key(r) for r in rows]
        return keys if workspace_id is None else [k for k in keys if k.workspace_id == workspace_id]

    def revoke(self, key_id: str) -> ApiKey:
        self.get(key_id)
        self._run(self.key_sql.revoke, (time.time(), key_id))
        return self.get(key_id)

    def update(self, key_id: str, edit: KeyEdit, now: float | None = None) -> ApiKey:
        self.get(key_id)
        columns = edit.columns()
        if columns:
            p = self.param
            sets = ", ".join(f"{c} = {p}" for c, _ in columns)
            values = [v for _, v in columns]
            now = time.time() if now is None else now
            self._run(
                f"UPDATE api_keys SET {sets}, updated_at = {p} WHERE id = {p}",
                (*values, now, key_id),
            )
        return self.get(key_id)

    def delete(self, key_id: str) -> ApiKey:
        """Remove the key (its ledger records stay): it stops working at once."""
        key = self.get(key_id)
        self._run(f"DELETE FROM api_keys WHERE id = {self.param}", (key_id,))
        return key

    def top_up(self, key_id: str, usd: float) -> ApiKey:
        self.get(key_id)
        self._run(self.key_sql.top_up, (to_nano(usd), key_id))
        return self.get(key_id)

    # -- credit --------------------------------------------------------------------------

    def reserve(self, key_id: str, nano: int) -> bool:
        return self.reserve_all(key_id, nano) is None

    def reserve_all(self, key_id: str, nano: int, slots: Sequence[str] = ()) -> str | None:
        """Reserve `nano` on the key's credit and on each budget period in `slots`
        (`security/budgets.py`), all or nothing, in one transaction. Returns None when
        reserved, else what refused: "key" or the budget's id."""

        def body(tx: Tx) -> None:
            if tx.run(self.key_sql.reserve, (nano, key_id, nano)) != 1:
                raise _Refused("key")
            for slot in slots:  # sorted by the caller: every transaction locks in one order
                budget_id, start = parse_slot(slot)
                if tx.run(self.budget_sql.reserve, (budget_id, start, nano, nano, budget_id)) != 1:
                    raise _Refused(budget_id)
            if not self._registered:  # before the first hold, so a sweeper can find it
                tx.run(self.hold_sql.seen, (self.holder, time.time()))
            tx.run(self.hold_sql.add, (self.holder, key_id, nano))
            for slot in slots:
                tx.run(self.budget_sql.hold, (self.holder, *parse_slot(slot), nano))

        try:
            self._tx(body)
        except _Refused as refused:
            return refused.what
        self._registered = True
        return None

    def settle(
        self,
        key_id: str,
        reserved_nano: int,
        actual_nano: int,
        record_id: str | None = None,
        slots: Sequence[str] = (),
    ) -> bool:
        """Replace a reservation with the actual cost. With `record_id` (the request's ledger
        id) it is charged once however many times this runs, and not at all if the ledger
        already charged it (`ledger/charges.py`); returns whether it charged now."""
        hold = KeyHold(self.holder, reserved_nano, list(slots))
        charge = Charge(key_id, hold, actual_nano, record_id)
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
        budget_orphans, _ = self._run(self.budget_sql.orphans)
        for holder in sorted({h for (h,) in orphans} | {h for (h,) in budget_orphans}):
            released += self._release_orphan(holder)
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
        # Budget periods after keys, in one order, as reservations lock them.
        for budget_id, start, nano in tx.rows(self.budget_sql.held, (holder,)):
            if tx.run(self.budget_sql.take, (holder, budget_id, start, nano)) == 1:
                tx.run(self.budget_sql.release, (nano, nano, budget_id, start))
                got += 1
        return got

    def _tx(self, body: Callable[[Tx], _T]) -> _T:
        """Run `body` in one transaction (on SQLite, holding the write lock)."""
        if not self._migrated:
            self.migrate()
        with self._db.transaction() as tx:
            return body(tx)
