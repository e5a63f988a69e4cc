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


def public(report: Report, detail: bool = False) -> dict[str, object]:
    """The fixed interface: exactly `accounts` and `clusters`, each with the fields the
    issue fixes; `detail` adds scores and evidence for the dashboard."""
    accounts: list[dict[str, object]] = []
    for a in report.accounts:
        row: dict[str, object] = {
            "key_id": a.key_id,
            "score": a.score,
            "flagged": a.flagged,
            "cluster": a.cluster,
            "reasons": a.reasons,
        }
        if detail:
            row |= {"requests": a.requests, "own_score": a.own_score}
        accounts.append(row)
    clusters: list[dict[str, object]] = []
    for c in report.clusters:
        row = {"id": c.id, "key_ids": c.key_ids, "reasons": c.reasons}
        if detail:
            row |= {"score": c.score, "flagged": c.flagged, "evidence": c.evidence}
        clusters.append(row)
    return {"accounts": accounts, "clusters": clusters}
