"""The durable request ledger: journal first, database soon after, nothing lost.

`Ledger` is what the gateway uses; `open_store` opens the database side alone (analytics,
`synth.fill`, tools).
"""

from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import GroupBy, LedgerStore, UsageRow, open_store
from tokenport.ledger.writer import Ledger, LedgerStats

__all__ = [
    "GroupBy",
    "Ledger",
    "LedgerRecord",
    "LedgerStats",
    "LedgerStore",
    "UsageRow",
    "open_store",
]
