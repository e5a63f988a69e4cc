"""Score an abuse scan against the scenario's truth, and a fast way to fill a ledger with it.

`fill_direct` writes the planned traffic straight into a ledger (keys through the key store,
records through the ledger store, signals from the same `signals.compute` the edge runs):
for detector work at scales the real gateway would take an hour to serve. `tokenport abuse
simulate` sends the same plan through a real gateway instead (`lab/abuse_sim.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence

import msgspec
from ulid import ULID

from tokenport.abusescan.report import Report
from tokenport.lab.abuse_traffic import Account, Planned
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import open_store
from tokenport.security.abuse import signals
from tokenport.security.keys import make_key
from tokenport.wire.openai_chat import parse_chat_request

Progress = Callable[[int, int], None]


class Metrics(msgspec.Struct):
    campaign_accounts: int
    normal_accounts: int
    recall: float
    false_positive_rate: float
    true_positives: int
    false_positives: int
    missed_by_style: dict[str, int]
    caught_by_style: dict[str, int]
    false_positives_by_kind: dict[str, int]
    normal_by_kind: dict[str, int]
    silent_accounts: int  # planned accounts that sent nothing in the window


def evaluate(report: Report, accounts: Sequence[Account], key_ids: Sequence[str]) -> Metrics:
    flagged = {a.key_id: a.flagged for a in report.accounts}
    tp = fp = 0
    missed: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    fps: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    pos = neg = silent = 0
    for acc, key in zip(accounts, key_ids, strict=True):
        if key not in flagged:
            silent += 1
            continue
        if acc.abusive:
            pos += 1
            if flagged[key]:
                tp += 1
                caught[acc.style] += 1
            else:
                missed[acc.style] += 1
        else:
            neg += 1
            kinds[acc.kind] += 1
            if flagged[key]:
                fp += 1
                fps[f"{acc.kind}/{acc.style}"] += 1
    return Metrics(
        campaign_accounts=pos,
        normal_accounts=neg,
        recall=round(tp / pos, 4) if pos else 0.0,
        false_positive_rate=round(fp / neg, 4) if neg else 0.0,
        true_positives=tp,
        false_positives=fp,
        missed_by_style=dict(missed),
        caught_by_style=dict(caught),
        false_positives_by_kind=dict(fps),
        normal_by_kind=dict(kinds),
        silent_accounts=silent,
    )


def _keys(url: str, accounts: Sequence[Account]) -> list[str]:
    from tokenport.db import Database, migrate
    from tokenport.security.keys import KeyQueries

    db = Database(url, readonly=False, what="ledger database")
    try:
        migrate(db)
        ids, rows = [], []
        for i, acc in enumerate(accounts):
            new, values = make_key(
                f"sim-{acc.kind}-{i:05d}", created_at=acc.created_at, created_via="simulate"
            )
            ids.append(new.key.id)
            rows.append(values)
        with db.transaction() as tx:
            # The key store's own INSERT, so a new key column can never leave this behind.
            tx.many(
                KeyQueries(db.param).insert,
                rows,
            )
        return ids
    finally:
        db.close()


def fill_direct(
    url: str,
    accounts: Sequence[Account],
    planned: Sequence[Planned],
    progress: Progress | None = None,
    batch: int = 5000,
) -> list[str]:
    """Keys for `accounts` (returned, by account index) and one ledger record per request."""
    key_ids = _keys(url, accounts)
    store = open_store(url)
    try:
        records: list[LedgerRecord] = []
        for n, p in enumerate(planned):
            request = parse_chat_request(json.dumps(p.body).encode())
            headers = {"user-agent": p.ua}
            sig = signals.compute(request, headers, p.ip)
            chars = sig.context_chars
            records.append(
                LedgerRecord(
                    id=f"gen-{ULID.from_timestamp(p.ts)}",
                    ts=p.ts,
                    model_requested=request.model,
                    status="ok",
                    key_id=key_ids[p.account],
                    app=p.app,
                    prompt_tokens=max(1, chars // 4),
                    completion_tokens=min(request.max_tokens or 800, 800),
                    signals=sig,
                )
            )
            if len(records) >= batch:
                store.insert_batch(records)
                records = []
                if progress is not None:
                    progress(n + 1, len(planned))
        if records:
            store.insert_batch(records)
    finally:
        store.close()
    return key_ids
