"""Rate limits in memory and in Redis follow the same GCRA / minute-window rules."""

from __future__ import annotations

import asyncio

import pytest

from tokenport.errors import RateLimited
from tokenport.security.limits import Limiter, MemoryLimiter, RedisLimiter


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request: pytest.FixtureRequest) -> Limiter:
    if request.param == "memory":
        return MemoryLimiter()
    return RedisLimiter(request.getfixturevalue("redis_url"))


async def test_rpm_allows_a_burst_then_refuses_with_retry_after(limiter: Limiter) -> None:
    for _ in range(5):
        await limiter.admit("k1", 5, None)
    with pytest.raises(RateLimited) as err:
        await limiter.admit("k1", 5, None)
    assert 0 < err.value.retry_after <= 12.5
    assert "5 requests per minute" in err.value.message
    await limiter.admit("k2", 5, None)  # other keys are not affected
    await limiter.aclose()


async def test_tpm_refuses_once_the_minute_is_spent(limiter: Limiter) -> None:
    await limiter.admit("t1", None, 100)
    await limiter.add_tokens("t1", 100, 60)
    await limiter.admit("t1", None, 100)
    await limiter.add_tokens("t1", 100, 60)
    with pytest.raises(RateLimited) as err:
        await limiter.admit("t1", None, 100)
    assert 0 < err.value.retry_after <= 60
    await limiter.aclose()


async def test_no_limits_means_no_refusal(limiter: Limiter) -> None:
    for _ in range(50):
        await limiter.admit("free", None, None)
    await limiter.aclose()


async def test_tpm_reserves_at_admission_so_concurrency_cannot_overshoot(
    limiter: Limiter,
) -> None:
    """Issue 13: tpm=100 and 100 requests at once, each reserving 12 tokens: 8 get in."""
    results = await asyncio.gather(
        *(limiter.admit("c1", None, 100, 12) for _ in range(100)), return_exceptions=True
    )
    windows = [r for r in results if isinstance(r, int)]
    assert len(windows) == 8
    assert all(isinstance(r, RateLimited) for r in results if not isinstance(r, int))
    # Settled to what they used (10 each): room for 2 more reservations of 12.
    for w in windows:
        await limiter.settle("c1", 100, w, 12, 10)
    await limiter.admit("c1", None, 100, 12)
    await limiter.admit("c1", None, 100, 8)
    with pytest.raises(RateLimited):
        await limiter.admit("c1", None, 100, 1)
    await limiter.aclose()


async def test_a_failed_request_gives_its_tokens_back(limiter: Limiter) -> None:
    window = await limiter.admit("c2", None, 10, 10)
    with pytest.raises(RateLimited):
        await limiter.admit("c2", None, 10, 1)
    await limiter.settle("c2", 10, window, 10, 0)
    await limiter.admit("c2", None, 10, 10)
    await limiter.aclose()


async def test_an_rpm_refusal_reserves_no_tokens(limiter: Limiter) -> None:
    window = await limiter.admit("c3", 1, 100, 60)
    with pytest.raises(RateLimited, match="requests per minute"):
        await limiter.admit("c3", 1, 100, 30)  # would fit in tokens: refused by rpm only
    assert await _window_tokens(limiter, "c3", window) == 60
    with pytest.raises(RateLimited, match="tokens per minute"):
        await limiter.admit("c4", None, 100, 101)
    await limiter.aclose()


async def _window_tokens(limiter: Limiter, key_id: str, window: int) -> int:
    if isinstance(limiter, MemoryLimiter):
        return limiter._tokens[key_id][1]
    assert isinstance(limiter, RedisLimiter)
    value = await limiter._redis.get(f"tp:tpm:{key_id}:{window}")
    return int(value or 0)
