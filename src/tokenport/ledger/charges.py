"""Charging a request's cost to its API key exactly once, by the gateway or by the ledger.

The gateway charges a keyed request as soon as it is answered (`KeyStore.settle`): the
reservation held for it is replaced by its actual cost. When it cannot (the database is down,
or the process dies between the answer and the charge), the charge is not lost: the
request's ledger record carries its `KeyHold`, and the ledger applies the charge in the
transaction that inserts the record, once the database is back or on the next start.

Both may try; exactly one charges. The gateway records the request id in `key_settlements`
and skips an id already in `requests`; the ledger skips (and deletes) an id found in
`key_settlements`, since the request row now stands for it. Both lock the key's row first,
so on PostgreSQL the second waits for the first and then sees what it committed; SQLite's
BEGIN IMMEDIATE serializes them anyway.

A charge takes the request's hold back from its holder (`security/holds.py`). If a sweeper
already gave that hold back (the holder was taken for dead), only the usage is added. Usage
may pass the key's limit when a request cost more than its reservation: that is the key's
debt, and its conditional reserve refuses every request until a top-up covers it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from tokenport.db import Tx
from tokenport.ledger.budget_charges import charge_slots, lock_slots
from tokenport.ledger.record import KeyHold, LedgerRecord

NANO = 1_000_000_000
# A gateway charge whose request never reaches the ledger (a request cancelled before it had a
# record) leaves its `key_settlements` row behind; rows this old are pruned. A journal replayed
# later than this after its charge (a week-long outage) would charge that request again.
MARKER_TTL_S = 7 * 86_400
_IN_CHUNK = 500  # ids per `IN (...)`, well under SQLite's bound-parameter limit


def to_nano(usd: float) -> int:
    """USD as integer nano-USD, rounded up: a reservation is never smaller than its cost."""
    return int(-(-round(usd * NANO * 1000) // 1000))


class Charge(NamedTuple):
    key_id: str
    hold: KeyHold
    actual_nano: int
    record_id: str | None = None  # None: not tied to a ledger record (tools, tests)


def charge_now(tx: Tx, charge: Charge) -> bool:
    """The gateway's charge; False if it was already applied (by the ledger or before)."""
    p = tx.param
    if tx.dialect == "postgres":
        tx.rows(f"SELECT id FROM api_keys WHERE id = {p} FOR UPDATE", (charge.key_id,))
        lock_slots(tx, charge.hold.slots)
    if charge.record_id is not None:
        if tx.rows(f"SELECT 1 FROM requests WHERE id = {p}", (charge.record_id,)):
            return False
        mark = (
            f"INSERT INTO key_settlements (id, settled_at) VALUES ({p}, {p}) "
            "ON CONFLICT (id) DO NOTHING"
        )
        if tx.run(mark, (charge.record_id, time.time())) != 1:
            return False
    _apply(tx, charge)
    return True


def charge_recorded(tx: Tx, records: Sequence[LedgerRecord]) -> int:
    """The ledger's charges for records new to `requests` in this transaction; how many it
    applied (the rest the gateway had already charged)."""
    held = [r for r in records if r.hold is not None and r.key_id is not None]
    if not held:
        return 0
    p = tx.param
    if tx.dialect == "postgres":
        # In key order, so two batches (or a batch and a sweep) never wait on each other
        # in a circle.
        keys = sorted({r.key_id for r in held if r.key_id is not None})
        for chunk in _chunks(keys):
            marks = ", ".join([p] * len(chunk))
            tx.rows(f"SELECT id FROM api_keys WHERE id IN ({marks}) ORDER BY id FOR UPDATE", chunk)
        lock_slots(tx, [s for r in held if r.hold is not None for s in r.hold.slots])
    charged_before: set[object] = set()
    for chunk in _chunks([r.id for r in held]):
        marks = ", ".join([p] * len(chunk))
        found = tx.rows(f"SELECT id FROM key_settlements WHERE id IN ({marks})", chunk)
        charged_before.update(row[0] for row in found)
        if found:
            tx.run(f"DELETE FROM key_settlements WHERE id IN ({marks})", chunk)
    applied = 0
    for r in held:
        if r.id in charged_before or r.hold is None or r.key_id is None:
            continue
        _apply(tx, Charge(r.key_id, r.hold, to_nano(r.cost)))
        applied += 1
    return applied


def prune_markers(tx: Tx, now: float) -> int:
    """Forget gateway charges older than `MARKER_TTL_S`; return how many."""
    return tx.run(
        f"DELETE FROM key_settlements WHERE settled_at < {tx.param}", (now - MARKER_TTL_S,)
    )


def _apply(tx: Tx, c: Charge) -> None:
    p = tx.param
    r = c.hold.reserved_nano
    took = tx.run(
        f"UPDATE key_holds SET reserved_nano = reserved_nano - {p} "
        f"WHERE holder = {p} AND key_id = {p} AND reserved_nano >= {p}",
        (r, c.hold.holder, c.key_id, r),
    )
    if took == 1:
        tx.run(
            f"UPDATE api_keys SET reserved_nano = CASE WHEN reserved_nano > {p} "
            f"THEN reserved_nano - {p} ELSE 0 END, usage_nano = usage_nano + {p} WHERE id = {p}",
            (r, r, c.actual_nano, c.key_id),
        )
    else:  # a sweeper took this holder for dead and already gave the hold back
        tx.run(
            f"UPDATE api_keys SET usage_nano = usage_nano + {p} WHERE id = {p}",
            (c.actual_nano, c.key_id),
        )
    if c.hold.slots:
        charge_slots(tx, c.hold.holder, r, c.hold.slots, c.actual_nano)


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _IN_CHUNK] for i in range(0, len(items), _IN_CHUNK)]
