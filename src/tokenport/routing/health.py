"""Live provider health: circuit breakers, Retry-After cool-downs, latency and throughput.

All estimates come from live traffic. Latency (time to first token) and throughput
(completion tokens per second after the first token) are rolling percentiles over each
route's last answers (`routing.speed`); `ttft_ms` and `throughput` give their medians.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tokenport.routing.speed import RouteSpeed, SpeedBook


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass(slots=True)
class _Stats:
    ok: int = 0
    errors: int = 0


@dataclass
class Health:
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _stats: dict[str, _Stats] = field(default_factory=dict)
    speed: SpeedBook = field(default_factory=SpeedBook)

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
        s = self._stats.get(route_key)
        if s is None:
            s = self._stats[route_key] = _Stats()
        s.ok += 1
        self.speed.record(route_key, ttft_ms, tokens / gen_s if tokens > 1 and gen_s > 0 else None)

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
        """The route's median time to first token (ms), None before its first answer."""
        s = self.speed.speed(route_key)
        return s.ttft_ms.p50 if s and s.ttft_ms else None

    def ttft_p95_ms(self, route_key: str) -> float | None:
        """The route's p95 time to first token (ms) over its rolling window, None before it
        has answered. What a hedged request waits before its second attempt."""
        return self.speed.ttft_percentile(route_key, 95)

    def throughput(self, route_key: str) -> float | None:
        """The route's median output tokens per second, None before it was measured."""
        s = self.speed.speed(route_key)
        return s.throughput.p50 if s and s.throughput else None

    def route_speed(self, route_key: str) -> RouteSpeed | None:
        return self.speed.speed(route_key)

    def snapshot(self) -> dict[str, dict[str, float | int | None]]:
        now = self._now()
        out: dict[str, dict[str, float | int | None]] = {}
        for key, s in self._stats.items():
            out[key] = {
                "ttft_ms": self.ttft_ms(key),
                "tokens_per_s": self.throughput(key),
                "ok": s.ok,
                "errors": s.errors,
            }
        for name, b in self._breakers.items():
            out.setdefault(name, {})["open_for_s"] = max(0.0, b.open_until - now)
        return out
