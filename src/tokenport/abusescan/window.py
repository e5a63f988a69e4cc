"""Day summaries folded into one window: per-key sums, histograms and bottom-k samples.

Folding is associative, so a scan over 30 days folds 30 cached summaries (and reads only
the days it has no summary for). Per key and kind at most `PAIRS_PER_KEY` values are kept:
the smallest, so that the sample is consistent across keys and across days, and so that the
number of distinct values can be estimated from it (k minimum values: with k of them below
v, about (k - 1) / v of the value range are distinct).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tokenport.abusescan.days import KINDS, STATS, DaySummary, S, bottom_k
from tokenport.security.abuse import topics

PAIRS_PER_KEY = 128
# The range each kind's values are spread over, for the distinct-count estimate: sketch
# bands are 32-bit values with a 2-bit band tag; hashes are 63-bit.
_RANGE = {"template_band": 2.0**34, "prompt_band": 2.0**34}
_HASH_RANGE = 2.0**63

Triple = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]


class Window:
    def __init__(self, topic_count: int) -> None:
        self.keys: list[str] = []
        self.index: dict[str, int] = {}
        self.stats = np.zeros((0, len(STATS)))
        self.hours = np.zeros((0, 24), np.int64)
        self.topics = np.zeros((0, topic_count + 1), np.int64)
        self.pairs: dict[str, Triple] = {
            k: (np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32)) for k in KINDS
        }
        self.names: dict[int, str] = {}
        self.records = 0
        self.days: list[int] = []

    def _grow(self, keys: list[str]) -> npt.NDArray[np.int64]:
        for k in keys:
            if k not in self.index:
                self.index[k] = len(self.keys)
                self.keys.append(k)
        n = len(self.keys)
        if n > len(self.stats):
            extra = n - len(self.stats)
            fresh = np.zeros((extra, len(STATS)))
            fresh[:, S["first"]] = math.inf
            fresh[:, S["last"]] = -math.inf
            self.stats = np.vstack([self.stats, fresh])
            self.hours = np.vstack([self.hours, np.zeros((extra, 24), np.int64)])
            self.topics = np.vstack(
                [self.topics, np.zeros((extra, self.topics.shape[1]), np.int64)]
            )
        return np.fromiter((self.index[k] for k in keys), np.int64, len(keys))

    def fold(self, day: DaySummary) -> None:
        self.days.append(day.day)
        self.records += day.records
        if not day.keys:
            return
        where = self._grow(day.keys)
        additive = np.array([i for name, i in S.items() if name not in ("first", "last")])
        self.stats[np.ix_(where, additive)] += day.stats[:, additive]
        first, last = S["first"], S["last"]
        self.stats[where, first] = np.minimum(self.stats[where, first], day.stats[:, first])
        self.stats[where, last] = np.maximum(self.stats[where, last], day.stats[:, last])
        self.hours[where] += day.hours
        self.topics[where] += day.topics
        for kind in KINDS:
            k0, v0, c0 = self.pairs[kind]
            k1, v1, c1 = day.pairs[kind]
            key = np.concatenate([k0.astype(np.int64), where[k1.astype(np.int64)]])
            value = np.concatenate([v0, v1])
            count = np.concatenate([c0, c1]).astype(np.int64)
            self.pairs[kind] = bottom_k(key, value, count, PAIRS_PER_KEY, keep_zero=True)
        self.names.update(day.names)

    def distinct(self, kind: str) -> npt.NDArray[np.float64]:
        """Estimated distinct values per key (exact while fewer than PAIRS_PER_KEY)."""
        key, value, _ = self.pairs[kind]
        n = len(self.keys)
        sampled = np.bincount(key, minlength=n).astype(np.float64)
        full = sampled >= PAIRS_PER_KEY
        if not full.any():
            return sampled
        # the largest kept value of each full key: the k-th minimum
        kth = np.zeros(n)
        np.maximum.at(kth, key, value.astype(np.float64))
        span = _RANGE.get(kind, _HASH_RANGE)
        est = (PAIRS_PER_KEY - 1) / np.maximum(kth / span, 1e-12)
        return np.where(full, np.maximum(est, sampled), sampled)

    @property
    def size(self) -> int:
        return len(self.keys)


def window(summaries: list[DaySummary]) -> Window:
    w = Window(summaries[0].topics.shape[1] - 1 if summaries else topics.count())
    for s in summaries:
        w.fold(s)
    return w
