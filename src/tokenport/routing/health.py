"""Live provider health: circuit breakers, Retry-After cool-downs, latency and throughput.

All estimates come from live traffic. Latency is an exponentially weighted mean of time
to first token; throughput of completion tokens per second after the first token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

_ALPHA = 0.2  # weight of the newest observation in the moving averages


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass(slots=True)
class _Stats:
    ttft_ms: float | None = None
    ttft_dev_ms: float = 0.0  # moving mean absolute deviation of ttft_ms
    tokens_per_s: float | None = None
    ok: int = 0
    errors: int = 0


@dataclass
class Health:
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _stats: dict[str, _Stats] = field(default_factory=dict)

    def _now(self) -> float:
        return time.monotonic()

    def available(self, provider: str) -> bool:
        b = self._breakers.get(provider)
        return b is None or b.open_until <= self._now()

    def failures(self, provider: str) -> int:
        """Consecutive failures (0 after a success): how the retry ranks routes' health."""
        b = self._breakers.get(provider)
        return b.failures if b is not None else 0

    def record_success(
        self, provider: str, route_key: str, ttft_ms: float, tokens: int, gen_s: float
    ) -> None:
        b = self._breakers.get(provider)
        if b is not None:
            b.failures, b.open_until = 0, 0.0
        s = self._stats.setdefault(route_key, _Stats())
        s.ok += 1
        if s.ttft_ms is not None:
            s.ttft_dev_ms = (1 - _ALPHA) * s.ttft_dev_ms + _ALPHA * abs(ttft_ms - s.ttft_ms)
        s.ttft_ms = ttft_ms if s.ttft_ms is None else (1 - _ALPHA) * s.ttft_ms + _ALPHA * ttft_ms
        if tokens > 1 and gen_s > 0:
            tps = tokens / gen_s
            s.tokens_per_s = (
                tps if s.tokens_per_s is None else ((1 - _ALPHA) * s.tokens_per_s + _ALPHA * tps)
            )

    def record_failure(self, provider: str, route_key: str, retry_after: float | None) -> None:
        b = self._breakers.setdefault(provider, _Breaker())
        b.failures += 1
        self._stats.setdefault(route_key, _Stats()).errors += 1
        now = self._now()
        if retry_after is not None:
            # Honour the upstream's own word on when to come back.
            b.open_until = max(b.open_until, now + retry_after)
        if b.failures >= self.failure_threshold:
            b.open_until = max(b.open_until, now + self.cooldown_s)

    def ttft_ms(self, route_key: str) -> float | None:
        s = self._stats.get(route_key)
        return s.ttft_ms if s else None

    def ttft_p95_ms(self, route_key: str) -> float | None:
        """A p95 of time to first token from the moving mean and deviation (normal: p95 is
        mean + 1.645 sigma, and sigma ~ 1.25 x the mean absolute deviation); None before
        the route has answered. What a hedged request waits before its second attempt."""
        s = self._stats.get(route_key)
        if s is None or s.ttft_ms is None:
            return None
        return s.ttft_ms + 2.06 * s.ttft_dev_ms

    def throughput(self, route_key: str) -> float | None:
        s = self._stats.get(route_key)
        return s.tokens_per_s if s else None

    def snapshot(self) -> dict[str, dict[str, float | int | None]]:
        now = self._now()
        out: dict[str, dict[str, float | int | None]] = {}
        for key, s in self._stats.items():
            out[key] = {
                "ttft_ms": s.ttft_ms,
                "tokens_per_s": s.tokens_per_s,
                "ok": s.ok,
                "errors": s.errors,
            }
        for name, b in self._breakers.items():
            out.setdefault(name, {})["open_for_s"] = max(0.0, b.open_until - now)
        return out
