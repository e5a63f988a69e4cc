"""The `LedgerStore` seam and the rows it reports: what every store implements (`sql.py`) and
what readers of the ledger get back. `store.py` opens one by URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec

from tokenport.ledger.record import LedgerRecord

GroupBy = Literal["hour", "day", "model_served", "provider", "key_id", "app"]
ROLLUP_KEYS: tuple[GroupBy, ...] = ("hour", "model_served", "provider", "key_id", "app")


class UsageRow(msgspec.Struct, kw_only=True):
    """Totals for one group of hourly rollups.

    `bucket` is the group's start in Unix seconds: the hour, or the day when grouped by "day";
    None when not grouped by time. A key field is None when the report is not grouped by it
    (or when the requests had none, e.g. no key).
    """

    bucket: int | None = None
    model_served: str | None = None
    provider: str | None = None
    key_id: str | None = None
    app: str | None = None
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    latency_ms_sum: float = 0.0
    ttft_ms_sum: float = 0.0
    ttft_count: int = 0
    energy_wh: float = 0.0


class LedgerStore(Protocol):
    """A database holding the `requests` table and its `rollup_hourly` aggregates."""

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied now."""
        ...

    def insert_batch(self, records: Sequence[LedgerRecord], /) -> int:
        """Insert records not already present, updating rollups for those only, in one
        transaction. Return how many were new, so a replayed batch returns 0 and counts nothing.
        """
        ...

    def get(self, record_id: str, /) -> LedgerRecord | None: ...

    def rollups(self, since: float, until: float) -> list[UsageRow]:
        """The raw hourly rollup rows of every hour overlapping [since, until)."""
        ...

    def usage_report(
        self,
        since: float,
        until: float,
        group_by: Sequence[GroupBy] = (),
        *,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """Totals over the hours overlapping [since, until), grouped; reads only rollups."""
        ...

    def close(self) -> None: ...
