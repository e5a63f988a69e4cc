"""Measured route speed: the rolling window, its percentiles, and the routing that reads it
(`sort: latency | throughput`, `preferred_min_throughput`, `preferred_max_latency`)."""

from __future__ import annotations

from tokenport.catalog.model import ModelEntry
from tokenport.providers.base import ProviderState
from tokenport.routing.candidates import plan
from tokenport.routing.health import Health
from tokenport.routing.speed import SpeedBook, percentiles
from tokenport.values import ChatRequest, Message, Percentiles, Pricing, ProviderPrefs


def test_percentiles_are_nearest_rank_and_throughput_counts_the_slow_tail() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == Percentiles(50.0, 75.0, 90.0, 99.0)
    # Throughput's p90 is what 90% of requests met or beat.
    assert percentiles(values, higher_is_better=True) == Percentiles(50.0, 25.0, 10.0, 1.0)
    assert percentiles([]) is None


def test_window_keeps_the_latest_answers_only() -> None:
    book = SpeedBook(window=8)
    for _ in range(8):
        book.record("p/m", 1000.0, 10.0)
    slow = book.speed("p/m")
    assert slow is not None and slow.ttft_ms is not None and slow.ttft_ms.p50 == 1000.0
    for _ in range(8):  # eight fast answers push every slow one out
        book.record("p/m", 50.0, 100.0)
    fast = book.speed("p/m")
    assert fast is not None and fast.samples == 8
    assert fast.ttft_ms == Percentiles(50.0, 50.0, 50.0, 50.0)
    assert fast.throughput is not None and fast.throughput.p50 == 100.0
    assert book.speed("other/m") is None
    assert set(book.speeds()) == {"p/m"}


def test_an_answer_without_throughput_still_counts_its_latency() -> None:
    book = SpeedBook()
    book.record("p/m", 80.0, None)
    s = book.speed("p/m")
    assert s is not None and s.throughput is None and s.ttft_ms is not None


def test_samples_wait_for_sharing_only_when_shared() -> None:
    alone = SpeedBook()
    alone.record("p/m", 1.0, 2.0)
    assert alone.take_pending() == {}
    shared = SpeedBook(window=4, sharing=True)
    for i in range(6):
        shared.record("p/m", float(i), None)
    assert shared.take_pending() == {"p/m": ([2.0, 3.0, 4.0, 5.0], [])}
    assert shared.take_pending() == {}
    shared.set_shared("p/m", [7.0, 9.0], [3.0])
    s = shared.speed("p/m")  # the shared window wins over this replica's own
    assert s is not None and s.ttft_ms is not None and s.ttft_ms.p99 == 9.0


# -- routing on the figures ------------------------------------------------------------


def _e(provider: str, price: float) -> ModelEntry:
    return ModelEntry(
        id=f"{provider}/m",
        provider=provider,
        upstream_id="m",
        slug="m",
        name="m",
        author="a",
        country="US",
        pricing=Pricing(price, price),
    )


ENTRIES = [_e("a", 0.1), _e("b", 0.2), _e("c", 0.3), _e("d", 0.4)]
STATES = {p: ProviderState(p, True, frozenset()) for p in "abcd"}


def _plan(health: Health, prefs: ProviderPrefs) -> list[str]:
    req = ChatRequest(model="m", messages=[Message(role="user", content="x")], provider=prefs)
    routes = plan(req, lambda n: ENTRIES, lambda n: [], STATES, health)
    return [r.provider for r in routes]


def _health() -> Health:
    """b: fast to start, slow to generate; c: slow to start, fast to generate; a and d
    unmeasured. record_success takes (ttft ms, completion tokens, generation seconds)."""
    h = Health()
    for _ in range(5):
        h.record_success("b", "b/m", 100, 101, 1.0)  # 100 ms, 101 tok/s
        h.record_success("c", "c/m", 900, 401, 1.0)  # 900 ms, 401 tok/s
    h.record_success("c", "c/m", 5000, 3, 1.0)  # one slow outlier: p90 sees it, p50 does not
    return h


def test_sort_by_latency_and_throughput_puts_unmeasured_routes_last_by_price() -> None:
    h = _health()
    assert _plan(h, ProviderPrefs(sort="latency")) == ["b", "c", "a", "d"]
    assert _plan(h, ProviderPrefs(sort="throughput")) == ["c", "b", "a", "d"]
    assert _plan(h, ProviderPrefs()) == ["a", "b", "c", "d"]  # price, as before


def test_preferred_min_throughput_moves_slow_and_unmeasured_routes_back() -> None:
    h = _health()
    assert _plan(h, ProviderPrefs(preferred_min_throughput=200)) == ["c", "a", "b", "d"]
    # p90 cut-off: c's slow tail (the outlier) misses it, so nothing meets it: price order.
    assert _plan(h, ProviderPrefs(preferred_min_throughput=Percentiles(p90=200))) == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_preferred_max_latency_is_in_seconds_like_openrouter() -> None:
    h = _health()
    assert _plan(h, ProviderPrefs(preferred_max_latency=0.5)) == ["b", "a", "c", "d"]
    assert _plan(h, ProviderPrefs(preferred_max_latency=Percentiles(p50=1.0))) == [
        "b",
        "c",
        "a",
        "d",
    ]
    assert _plan(h, ProviderPrefs(preferred_max_latency=Percentiles(p50=1.0, p99=2.0))) == [
        "b",
        "a",
        "c",
        "d",
    ]


def test_preferences_combine_with_sort_and_order() -> None:
    h = _health()
    prefs = ProviderPrefs(sort="latency", preferred_min_throughput=200)
    assert _plan(h, prefs) == ["c", "b", "a", "d"]
    # the client's own order still wins
    prefs = ProviderPrefs(order=["d"], preferred_min_throughput=200)
    assert _plan(h, prefs)[0] == "d"
