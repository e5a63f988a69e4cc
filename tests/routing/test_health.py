from __future__ import annotations

import pytest

from tokenport.routing.health import Health


def test_breaker_opens_after_threshold_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    h = Health(failure_threshold=3, cooldown_s=10)
    monkeypatch.setattr(h, "_now", lambda: now[0])
    for _ in range(2):
        h.record_failure("p", "p/m", None)
    assert h.available("p")
    h.record_failure("p", "p/m", None)
    assert not h.available("p")
    now[0] += 10.1
    assert h.available("p")
    h.record_success("p", "p/m", 50, 10, 1.0)
    h.record_failure("p", "p/m", None)
    assert h.available("p")  # success reset the count


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    h = Health(failure_threshold=5, cooldown_s=30)
    monkeypatch.setattr(h, "_now", lambda: now[0])
    h.record_failure("p", "p/m", 2.0)
    assert not h.available("p")
    now[0] = 2.5
    assert h.available("p")


def test_latency_and_throughput_are_rolling_medians() -> None:
    h = Health()
    h.record_success("p", "p/m", 100, 101, 1.0)
    assert h.ttft_ms("p/m") == 100 and h.throughput("p/m") == 101
    h.record_success("p", "p/m", 200, 51, 1.0)
    h.record_success("p", "p/m", 900, 11, 1.0)
    assert h.ttft_ms("p/m") == 200  # one slow answer does not move the median
    assert h.throughput("p/m") == 51
    assert h.ttft_ms("other") is None
    assert h.snapshot()["p/m"]["ttft_ms"] == 200
