"""Per-key rate limits: requests per minute (GCRA) and tokens per minute (minute window).

In-process by default. With `redis_url` the same rules run as one Lua script in Redis, on
Redis's own clock, so they hold across every replica that shares it.

GCRA: each request pushes a "theoretical arrival time" forward by 60/rpm seconds; a request
is refused while that time runs further ahead of now than the burst allowance (one minute's
worth), so a fresh key may burst `rpm` requests and then gets `rpm` a minute.
Tokens: a request reserves its worst case (`security/worst_case.py`) in the current minute's
window when admitted, and only if that keeps the window within `tpm`; when it finishes, the
reservation is replaced by the tokens it actually used (`settle`). Checking and reserving are
one step (in Redis, one script), so concurrent requests cannot all pass a check that only
one of them fits, as they could when tokens were counted only afterwards.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from tokenport.errors import RateLimited, ServiceUnavailable


class Limiter(Protocol):
    async def admit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int = 0) -> int:
        """Raise `RateLimited` (with Retry-After seconds) if the key is over a limit; else
        reserve `tokens` in this minute's window and return the window, for `settle`."""

    async def settle(
        self, key_id: str, tpm: int | None, window: int, reserved: int, used: int
    ) -> None:
        """Replace a reservation made in `window` by the tokens the request used."""

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        """Count tokens nothing reserved, in the current window."""

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

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int = 0) -> int:
        now = time.time()
        window = int(now // 60)
        used = self._used(key_id, window)
        # `max(tokens, 1)`: a request that reserves nothing still needs room left.
        if tpm and used + max(tokens, 1) > tpm:
            raise _tpm_refusal(tpm, 60 - now % 60)
        if rpm:
            interval = 60.0 / rpm
            tat = max(self._tat.get(key_id, now), now)
            allow_at = tat - interval * (rpm - 1)
            if now < allow_at:
                raise _rpm_refusal(rpm, allow_at - now)
            self._tat[key_id] = tat + interval
        if tpm and tokens > 0:
            self._tokens[key_id] = (window, used + tokens)
        return window

    async def settle(
        self, key_id: str, tpm: int | None, window: int, reserved: int, used: int
    ) -> None:
        # A window that has passed is not counted any more, so there is nothing to correct.
        if tpm and self._tokens.get(key_id, (None, 0))[0] == window:
            self._tokens[key_id] = (window, max(0, self._used(key_id, window) + used - reserved))

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm:
            return
        minute = int(time.time() // 60)
        self._tokens[key_id] = (minute, self._used(key_id, minute) + tokens)

    def _used(self, key_id: str, window: int) -> int:
        minute, used = self._tokens.get(key_id, (window, 0))
        return used if minute == window else 0

    async def aclose(self) -> None:
        return None


# KEYS[1] = gcra key, KEYS[2] = token window prefix; ARGV = rpm, tpm, tokens to reserve.
# Returns {0, "", window} when admitted (tokens reserved in `window`), else {1 or 2 (which
# limit), seconds to wait as a string, window}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local window = tostring(math.floor(now / 60))
if tpm > 0 then
  local used = tonumber(redis.call('GET', KEYS[2] .. window) or '0')
  if used + math.max(tokens, 1) > tpm then return {2, tostring(60 - now % 60), window} end
end
if rpm > 0 then
  local interval = 60.0 / rpm
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local allow_at = tat - interval * (rpm - 1)
  if now < allow_at then return {1, tostring(allow_at - now), window} end
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
end
if tpm > 0 and tokens > 0 then
  redis.call('INCRBY', KEYS[2] .. window, ARGV[3])
  redis.call('EXPIRE', KEYS[2] .. window, 120)
end
return {0, '', window}
"""

# KEYS[1] = token window prefix; ARGV = window, tokens used minus tokens reserved.
# A window that has expired is not counted any more, so there is nothing to correct.
_SETTLE = """
local k = KEYS[1] .. ARGV[1]
if redis.call('EXISTS', k) == 1 then
  if redis.call('INCRBY', k, ARGV[2]) < 0 then redis.call('SET', k, '0', 'KEEPTTL') end
end
return 1
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
        self._settle = self._redis.register_script(_SETTLE)
        self._add = self._redis.register_script(_ADD)

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int = 0) -> int:
        if not rpm and not tpm:
            return int(time.time() // 60)
        try:
            which, wait, window = await self._admit(
                keys=[f"tp:gcra:{key_id}", f"tp:tpm:{key_id}:"],
                args=[rpm or 0, tpm or 0, max(0, tokens)],
            )
        except RedisError as exc:
            raise ServiceUnavailable(f"Rate limits are unavailable: Redis error: {exc}") from exc
        if int(which) == 1:
            raise _rpm_refusal(rpm or 0, float(wait))
        if int(which) == 2:
            raise _tpm_refusal(tpm or 0, float(wait))
        return int(window)

    async def settle(
        self, key_id: str, tpm: int | None, window: int, reserved: int, used: int
    ) -> None:
        if not tpm or used == reserved:
            return
        await self._run(self._settle, [f"tp:tpm:{key_id}:"], [window, used - reserved])

    async def add_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm or tokens <= 0:
            return
        await self._run(self._add, [f"tp:tpm:{key_id}:"], [tokens])

    async def _run(self, script: AsyncScript, keys: list[str], args: list[int]) -> None:
        try:
            await script(keys=keys, args=args)
        except RedisError as exc:
            raise ServiceUnavailable(f"Rate limits are unavailable: Redis error: {exc}") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()
