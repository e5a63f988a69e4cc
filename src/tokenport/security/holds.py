"""Who holds each reservation, so that a crashed gateway's reservations are given back.

`api_keys.reserved_nano` is the sum of every in-flight reservation on a key. A process that
dies between reserve and settle (SIGKILL, OOM, power) never settles, and without more
bookkeeping its share would stay reserved until an operator topped the key up.

So each `KeyStore` is a *holder* with a random id:
- `key_holders(holder, seen_at)`: a heartbeat row, refreshed every few seconds;
- `key_holds(holder, key_id, reserved_nano)`: what that holder has reserved on each key,
  changed in the same transaction as `api_keys.reserved_nano`.

Any live process periodically *sweeps*: a holder not seen for `ttl` seconds is deleted
(exactly one sweeper wins that DELETE), and its holds are subtracted from the keys. A holder
that was only stalled, not dead, finds its holds gone: its later settles add the usage but
subtract nothing from `reserved_nano` (the sweeper already did), so the sum stays right.

A holder row and its first hold are written in one transaction, so a hold without a holder
row exists only after such a mistaken sweep, until the stalled holder's next heartbeat.
Sweeps give those *orphan* holds back too (each row claimed by one conditional DELETE), so
even a holder that is swept, reserves again and then really dies leaves nothing locked.

The tables are in `db/schema/holds.py`.
"""

from __future__ import annotations


class HoldQueries:
    """The holder tables' SQL for one parameter style (`?` or `%s`)."""

    def __init__(self, p: str) -> None:
        self.seen = (
            f"INSERT INTO key_holders (holder, seen_at) VALUES ({p}, {p}) "
            "ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at"
        )
        self.add = (
            f"INSERT INTO key_holds (holder, key_id, reserved_nano) VALUES ({p}, {p}, {p}) "
            "ON CONFLICT (holder, key_id) DO UPDATE "
            "SET reserved_nano = key_holds.reserved_nano + excluded.reserved_nano"
        )
        self.stale = f"SELECT holder FROM key_holders WHERE seen_at < {p} AND holder <> {p}"
        self.claim = f"DELETE FROM key_holders WHERE holder = {p} AND seen_at < {p}"
        self.forget = f"DELETE FROM key_holders WHERE holder = {p}"
        # In key order, as the ledger locks keys: a sweep and a batch never deadlock.
        self.held = (
            f"SELECT key_id, reserved_nano FROM key_holds WHERE holder = {p} ORDER BY key_id"
        )
        self.orphans = (
            "SELECT DISTINCT holder FROM key_holds "
            "WHERE holder NOT IN (SELECT holder FROM key_holders)"
        )
        self.take_all = (
            f"DELETE FROM key_holds WHERE holder = {p} AND key_id = {p} AND reserved_nano = {p}"
        )
        self.known = f"SELECT 1 FROM key_holders WHERE holder = {p}"
        self.release = (
            f"UPDATE api_keys SET reserved_nano = CASE WHEN reserved_nano > {p} "
            f"THEN reserved_nano - {p} ELSE 0 END WHERE id = {p}"
        )
