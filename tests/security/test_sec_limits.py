"""Rate limits in memory and in Redis follow the same GCRA / minute-window rules."""

from __future__ import annotations

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
