"""Per-key rate limits: requests per minute (GCRA) and tokens per minute (minute window).

In-process by default. With `redis_url` the same rules run as one Lua script in Redis, on
Redis's own clock, so they hold across every replica that shares it.

GCRA: each request pushes a "theoretical arrival time" forward by 60/rpm seconds; a request
is refused while that time runs further ahead of now than the burst allowance (one minute's
worth), so a fresh key may burst `rpm` requests and then gets `rpm` a minute.
Tokens: the current minute's count must be below `tpm` to admit; actual tokens are added
when the request finishes (the size of an answer is unknown before it is written).
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tokenport.errors import RateLimited, ServiceUnavailable


class Limiter(Protocol):
    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> None:
        """Raise `RateLimited` (with Retry-After seconds) if the key is over a limit."""

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None: ...

    async def aclose(self) -> None: ...


def _rpm_refusal(rpm: int, wait: float) -> RateLimited:
    return RateLimited(
        f"This key is limited to {rpm} requests per minute; retry in {wait:.1f}s.", wait
    )


def _tpm_refusal(tpm: int, wait: float) -> RateLimited:
    return RateLimited(
        f"This key is limited to {tpm} tokens per minute; retry in {wait:.1f}s.", wait
    )


class MemoryLimiter:
    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._tokens: dict[str, tuple[int, int]] = {}  # key -> (minute, tokens)

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> None:
        now = time.time()
        if tpm:
            minute, used = self._tokens.get(key_id, (0, 0))
            if minute == int(now // 60) and used >= tpm:
                raise _tpm_refusal(tpm, 60 - now % 60)
        if rpm:
            interval = 60.0 / rpm
            tat = max(self._tat.get(key_id, now), now)
            allow_at = tat - interval * (rpm - 1)
            if now < allow_at:
                raise _rpm_refusal(rpm, allow_at - now)
            self._tat[key_id] = tat + interval

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm:
            return
        minute = int(time.time() // 60)
        m, used = self._tokens.get(key_id, (minute, 0))
        self._tokens[key_id] = (minute, (used if m == minute else 0) + tokens)

    async def aclose(self) -> None:
        return None


# KEYS[1] = gcra key, KEYS[2] = token window prefix; ARGV = rpm, tpm.
# Returns {0, ""} when admitted, else {1 or 2 (which limit), seconds to wait as a string}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
if tpm > 0 then
  local used = tonumber(redis.call('GET', KEYS[2] .. math.floor(now / 60)) or '0')
  if used >= tpm then return {2, tostring(60 - now % 60)} end
end
if rpm > 0 then
  local interval = 60.0 / rpm
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local allow_at = tat - interval * (rpm - 1)
  if now < allow_at then return {1, tostring(allow_at - now)} end
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
end
return {0, ''}
"""

_ADD = """
local t = redis.call('TIME')
local k = KEYS[1] .. math.floor(tonumber(t[1]) / 60)
redis.call('INCRBY', k, ARGV[1])
redis.call('EXPIRE', k, 120)
return 1
"""


class RedisLimiter:
    def __init__(self, url: str) -> None:
        self.url = url
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._admit = self._redis.register_script(_ADMIT)
        self._add = self._redis.register_script(_ADD)

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> None:
        if not rpm and not tpm:
            return
        try:
            which, wait = await self._admit(
                keys=[f"tp:gcra:{key_id}", f"tp:tpm:{key_id}:"], args=[rpm or 0, tpm or 0]
            )
        except RedisError as exc:
            raise ServiceUnavailable(f"Rate limits are unavailable: Redis error: {exc}") from exc
        if int(which) == 1:
            raise _rpm_refusal(rpm or 0, float(wait))
        if int(which) == 2:
            raise _tpm_refusal(tpm or 0, float(wait))

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm or tokens <= 0:
            return
        try:
            await self._add(keys=[f"tp:tpm:{key_id}:"], args=[tokens])
        except RedisError as exc:
            raise ServiceUnavailable(f"Rate limits are unavailable: Redis error: {exc}") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
