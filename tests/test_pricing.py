from __future__ import annotations

import pytest

from tokenport.pricing import cost_usd, max_cost_usd
from tokenport.values import Pricing, Usage


def test_plain_input_output() -> None:
    p = Pricing(input=0.14, output=0.28)
    assert cost_usd(Usage(prompt_tokens=1_000_000, completion_tokens=500_000), p) == (
        pytest.approx(0.14 + 0.14)
    )


def test_cache_reads_and_writes_at_own_rates() -> None:
    p = Pricing(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
    u = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=600, cache_write_tokens=300)
    expected = (100 * 3.0 + 600 * 0.3 + 300 * 3.75 + 100 * 15.0) / 1e6
    assert cost_usd(u, p) == pytest.approx(expected)


def test_unknown_cache_rates_fall_back_to_input() -> None:
    p = Pricing(input=1.0, output=2.0)
    u = Usage(prompt_tokens=100, completion_tokens=0, cached_tokens=100)
    assert cost_usd(u, p) == pytest.approx(100 / 1e6)


def test_inconsistent_counts_never_go_negative() -> None:
    p = Pricing(input=1.0, output=1.0, cache_read=0.5)
    u = Usage(prompt_tokens=10, cached_tokens=50)
    assert cost_usd(u, p) == pytest.approx(10 * 0.5 / 1e6)


def test_max_cost() -> None:
    assert max_cost_usd(1000, 500, Pricing(2.0, 10.0)) == pytest.approx((2000 + 5000) / 1e6)
