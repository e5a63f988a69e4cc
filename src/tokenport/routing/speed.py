"""Measured route speed: rolling p50/p75/p90/p99 of time to first token and throughput.

Every settled answer adds one sample per figure to its route's fixed-size ring, O(1) and
allocation-free (`SpeedBook.record`, called from `Health.record_success`). Percentiles are
computed only when someone reads them (a `sort` / `preferred_*` request, the endpoints API,
the dashboard), and remembered until the ring changes.

With Redis (`routing.speed_share`) each replica pushes its new samples every few seconds
and reads back every replica's window: `speed()` then answers from the shared window.

Time to first token is measured on streams; for a non-streamed answer the whole answer's
time stands in for it (an upper bound). Throughput is output tokens per second after the
first token (of the whole answer, non-streamed). Throughput's pXX is what XX% of requests
met or beat, so p90 is the slow tail for both figures.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import msgspec

from tokenport.values import Percentiles

DEFAULT_WINDOW = 64
_PCTS = (50, 75, 90, 99)


class RouteSpeed(msgspec.Struct, frozen=True):
    """One route's measured speed over its last `samples` answers (at most the window)."""

    samples: int
    ttft_ms: Percentiles | None = None  # time to first token, milliseconds
    throughput: Percentiles | None = None  # output tokens per second


class _Ring:
    __slots__ = ("buf", "i", "n")

    def __init__(self, size: int) -> None:
        self.buf = [0.0] * size
        self.i = 0
        self.n = 0  # samples ever added: the ring's version

    def add(self, value: float) -> None:
        self.buf[self.i] = value
        self.i = (self.i + 1) % len(self.buf)
        self.n += 1

    def values(self) -> list[float]:
        return self.buf[: min(self.n, len(self.buf))]


def _rank(ordered: list[float], pct: int) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(pct * len(ordered) / 100) - 1)]


def percentiles(values: list[float], *, higher_is_better: bool = False) -> Percentiles | None:
    if not values:
        return None
    ordered = sorted(values)
    # "p90 throughput" = what 90% of requests met or beat: the 10th percentile.
    pick = [100 - p for p in _PCTS] if higher_is_better else list(_PCTS)
    return Percentiles(*(_rank(ordered, p) for p in pick))


def speed_of(ttfts: list[float], tps: list[float]) -> RouteSpeed | None:
    if not ttfts and not tps:
        return None
    return RouteSpeed(
        max(len(ttfts), len(tps)),
        percentiles(ttfts),
        percentiles(tps, higher_is_better=True),
    )


@dataclass
class SpeedBook:
    window: int = DEFAULT_WINDOW
    sharing: bool = False  # keep samples for `speed_share` to push
    _ttft: dict[str, _Ring] = field(default_factory=dict)
    _tps: dict[str, _Ring] = field(default_factory=dict)
    _memo: dict[str, tuple[int, RouteSpeed | None]] = field(default_factory=dict)
    _shared: dict[str, RouteSpeed] = field(default_factory=dict)
    _pending: dict[str, tuple[deque[float], deque[float]]] = field(default_factory=dict)

    def _ring(self, rings: dict[str, _Ring], route: str) -> _Ring:
        ring = rings.get(route)
        if ring is None:
            ring = rings[route] = _Ring(self.window)
        return ring

    def record(self, route: str, ttft_ms: float, tokens_per_s: float | None) -> None:
        """One settled answer: O(1), no sorting, no I/O."""
        self._ring(self._ttft, route).add(ttft_ms)
        if tokens_per_s is not None:
            self._ring(self._tps, route).add(tokens_per_s)
        if self.sharing:
            pend = self._pending.get(route)
            if pend is None:
                pend = self._pending[route] = (deque(maxlen=self.window), deque(maxlen=self.window))
            pend[0].append(ttft_ms)
            if tokens_per_s is not None:
                pend[1].append(tokens_per_s)

    def speed(self, route: str) -> RouteSpeed | None:
        """The route's figures: every replica's when shared through Redis, else this one's;
        None when it has served nothing yet."""
        shared = self._shared.get(route)
        if shared is not None:
            return shared
        return self._local(route)

    def _local(self, route: str) -> RouteSpeed | None:
        t, p = self._ttft.get(route), self._tps.get(route)
        version = (t.n if t else 0) + (p.n if p else 0) * (1 << 32)
        memo = self._memo.get(route)
        if memo is not None and memo[0] == version:
            return memo[1]
        value = speed_of(t.values() if t else [], p.values() if p else [])
        self._memo[route] = (version, value)
        return value

    def ttft_percentile(self, route: str, pct: int) -> float | None:
        """This replica's nearest-rank percentile of time to first token (ms); None when the
        route has not answered here. Sorts the window: for callers off the common path."""
        ring = self._ttft.get(route)
        if ring is None or ring.n == 0:
            return None
        return _rank(sorted(ring.values()), pct)

    def speeds(self) -> dict[str, RouteSpeed]:
        """Every measured route's figures (the endpoints API, the dashboard)."""
        out: dict[str, RouteSpeed] = {}
        for route in {*self._ttft, *self._tps, *self._shared}:
            s = self.speed(route)
            if s is not None:
                out[route] = s
        return out

    def take_pending(self) -> dict[str, tuple[list[float], list[float]]]:
        """Samples recorded since the last call (for `speed_share`)."""
        pending, self._pending = self._pending, {}
        return {r: (list(t), list(p)) for r, (t, p) in pending.items()}

    def set_shared(self, route: str, ttfts: list[float], tps: list[float]) -> None:
        value = speed_of(ttfts, tps)
        if value is None:
            self._shared.pop(route, None)
        else:
            self._shared[route] = value
