"""The scan's answer, as `tokenport abuse scan --json` and `GET /api/v1/abuse` print it:

    {"accounts": [{"key_id", "score", "flagged", "cluster", "reasons"}],
     "clusters": [{"id", "key_ids", "reasons"}]}

plus, beside those fixed fields, what a person reviewing it wants (`evidence`, `score`,
the window) under keys an evaluator can ignore.
"""

from __future__ import annotations

import msgspec


class AccountVerdict(msgspec.Struct):
    key_id: str
    score: float
    flagged: bool
    cluster: str | None
    reasons: list[str]
    requests: int = 0
    own_score: float = 0.0


class ClusterVerdict(msgspec.Struct):
    id: str
    key_ids: list[str]
    reasons: list[str]
    score: float = 0.0
    flagged: bool = False
    evidence: dict[str, float] = msgspec.field(default_factory=dict)


class Report(msgspec.Struct):
    accounts: list[AccountVerdict]
    clusters: list[ClusterVerdict]
    since: float = 0.0
    until: float = 0.0
    records: int = 0
    threshold: float = 0.5
    days_read: int = 0  # days summarised from the ledger now (the rest came from the cache)
