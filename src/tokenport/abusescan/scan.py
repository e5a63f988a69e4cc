"""`scan()`: read the ledger's signals day by day, score every key with traffic, find networks.

    for each UTC day in the window:
        a cached summary (abuse_days) whose record count still matches, else summarise now
    fold the days -> features -> per-account detectors -> networks -> verdicts

Finished days are cached, so a daily scan over 30 days reads one new day. The cache is
checked against the day's record count (an index range count), so late or back-filled
records make that day be summarised again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np

from tokenport.abusescan import days, detectors, features, network
from tokenport.abusescan.days import DAY, DaySummary
from tokenport.abusescan.features import KeyInfo
from tokenport.abusescan.report import AccountVerdict, ClusterVerdict, Report
from tokenport.abusescan.window import Window
from tokenport.db import Database, migrate
from tokenport.errors import ServiceUnavailable
from tokenport.security.abuse import topics

log = logging.getLogger("tokenport.abuse")
Progress = Callable[[int, int], None]
DEFAULT_THRESHOLD = 0.5


def bounds(db: Database) -> tuple[float, float] | None:
    rows = db.rows("SELECT MIN(ts), MAX(ts) FROM request_signals WHERE key_id IS NOT NULL")
    if not rows or rows[0][0] is None:
        return None
    return float(rows[0][0]), float(rows[0][1])


def _count(db: Database, day: int) -> int:
    p = db.param
    rows = db.rows(
        f"SELECT COUNT(*) FROM request_signals WHERE ts >= {p} AND ts < {p} AND key_id IS NOT NULL",
        (day * DAY, (day + 1) * DAY),
    )
    return int(rows[0][0])


def _cached(db: Database, day: int) -> tuple[int, str] | None:
    p = db.param
    rows = db.rows(
        f"SELECT records, summary FROM abuse_days WHERE day = {p} AND version = {p}",
        (day, days.VERSION),
    )
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _store(db: Database, summary: DaySummary) -> None:
    p = db.param
    with db.transaction() as tx:
        tx.run(f"DELETE FROM abuse_days WHERE day = {p}", (summary.day,))
        tx.run(
            f"INSERT INTO abuse_days (day, version, records, summary) VALUES ({p}, {p}, {p}, {p})",
            (summary.day, days.VERSION, summary.records, summary.encode()),
        )


def day_summary(
    db: Database, day: int, now: float, use_cache: bool = True
) -> tuple[DaySummary, bool]:
    """The day's summary, and whether it had to be read from the ledger."""
    finished = (day + 1) * DAY < now - 3600  # late records may still land for an hour
    count = _count(db, day)
    if use_cache and finished:
        hit = _cached(db, day)
        if hit is not None and hit[0] == count:
            return DaySummary.decode(hit[1]), False
    rows = list(days.read_rows(db, day * DAY, (day + 1) * DAY))
    summary = days.summarise(day, rows)
    if use_cache and finished and count == len(rows):
        try:
            _store(db, summary)
        except ServiceUnavailable as exc:  # a read-only ledger: scan on, uncached
            log.info("abuse scan: could not cache day %d: %s", day, exc)
    return summary, True


def key_info(db: Database) -> dict[str, KeyInfo]:
    rows = db.rows("SELECT id, created_at, created_via, created_ip FROM api_keys")
    return {r[0]: KeyInfo(r[1], r[2], r[3]) for r in rows}


def scan(
    database_url: str,
    since: float | None = None,
    until: float | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Report:
    db = Database(database_url, readonly=False, what="ledger database")
    try:
        migrate(db)
        span = bounds(db)
        if span is None:
            return Report([], [], since or 0.0, until or 0.0, 0, threshold)
        lo = span[0] if since is None else max(since, span[0])
        hi = span[1] + 1 if until is None else until
        first, last = math.floor(lo / DAY), math.floor((hi - 1e-6) / DAY)
        w, read = Window(topics.count()), 0
        now = time.time()
        for i, day in enumerate(range(first, last + 1)):
            summary, fresh = day_summary(db, day, now, use_cache)
            read += fresh
            w.fold(summary)
            if progress is not None:
                progress(i + 1, last - first + 1)
        info = key_info(db)
    finally:
        db.close()
    report = judge(w, info, threshold)
    report.since, report.until, report.days_read = first * DAY, (last + 1) * DAY, read
    return report


def judge(w: Window, info: dict[str, KeyInfo], threshold: float = DEFAULT_THRESHOLD) -> Report:
    """Score a folded window: per-account detectors, then networks, then verdicts."""
    if w.size == 0:
        return Report([], [], records=w.records, threshold=threshold)
    f = features.compute(w, info)
    strength = detectors.strengths(f)
    own = detectors.harvest_score(strength, f)
    nets, _ = network.build(w, f, own)
    final = own.copy()
    cluster_of: dict[int, network.Network] = {}
    for found in nets:
        m = np.array(found.members)
        # The network's score, nudged by the member's own behaviour (which alone stays
        # below a flag: detectors.OWN_CAP).
        final[m] = np.maximum(own[m], found.score + 0.25 * own[m] * (1 - found.score))
        for i in found.members:
            cluster_of[i] = found
    accounts = []
    for i, key in enumerate(w.keys):
        net = cluster_of.get(i)
        why = detectors.reasons(f, strength, i)
        if net is not None and net.score >= 0.2:
            why.insert(
                0, f"member of network {net.id} ({len(net.members)} keys, score {net.score:.2f})"
            )
        accounts.append(
            AccountVerdict(
                key_id=key,
                score=round(float(final[i]), 4),
                flagged=bool(final[i] >= threshold),
                cluster=net.id if net is not None else None,
                reasons=why,
                requests=int(f.n[i]),
                own_score=round(float(own[i]), 4),
            )
        )
    clusters = [
        ClusterVerdict(
            id=net.id,
            key_ids=sorted(w.keys[i] for i in net.members),
            reasons=net.reasons,
            score=net.score,
            flagged=net.score >= threshold,
            evidence={k: round(v, 3) for k, v in net.shared.items()},
        )
        for net in sorted(nets, key=lambda n: -n.score)
    ]
    accounts.sort(key=lambda a: (-a.score, a.key_id))
    return Report(accounts, clusters, records=w.records, threshold=threshold)
