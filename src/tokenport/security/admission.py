"""Who may send a request, and whether they can afford it: the checks before any upstream call.

authenticate -> allowed models -> rate limit -> reserve the request's maximum cost.
After the request, `settle` replaces the reservation with the actual cost.

Open mode (the default, `require_keys = false`) lets requests without a tokenport key
through unmetered, so `tokenport serve` works out of the box; a `tp-` key is always
checked, so a revoked or unknown one is refused in either mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from dataclasses import dataclass, field

from tokenport.errors import Forbidden, PaymentRequired, ServiceUnavailable, Unauthorized
from tokenport.pricing import max_cost_usd
from tokenport.security.keys import KEY_PREFIX, ApiKey, to_nano
from tokenport.security.keystore import KeyStore
from tokenport.security.limits import Limiter
from tokenport.tokenize import TokenCounter
from tokenport.types import ChatRequest, Route

log = logging.getLogger("tokenport.security")

# A request with no output cap at a key with a credit limit is capped here, so that its
# reservation (and so the key's spend) has a bound.
DEFAULT_RESERVED_OUTPUT = 4096


@dataclass(slots=True)
class Reservation:
    key: ApiKey
    nano: int


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def model_allowed(patterns: list[str], model: str) -> bool:
    return any(fnmatch.fnmatchcase(model.lower(), p.lower()) for p in patterns)


# Beats come every hold_ttl_s / 6, so three misses in a row are half the TTL.
_MISSES_TO_WARN = 3


@dataclass
class Admission:
    keys: KeyStore
    limiter: Limiter
    counter: TokenCounter
    require_keys: bool = False
    cache_ttl_s: float = 2.0
    hold_ttl_s: float = 60.0
    _cache: dict[str, tuple[float, ApiKey | None]] = field(default_factory=dict)
    _keeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Keep this process's reservation holder alive, and sweep up dead ones."""
        self._keeper = asyncio.create_task(self._keep_holds(), name="key-holds")

    async def _keep_holds(self) -> None:
        # Heartbeat well inside the TTL, so a live process is never taken for dead.
        misses = 0
        while True:
            try:
                await asyncio.to_thread(self.keys.heartbeat)
                if misses >= _MISSES_TO_WARN:
                    log.warning("key holder heartbeat restored after %d missed beats", misses)
                misses = 0
                released = await asyncio.to_thread(self.keys.sweep, self.hold_ttl_s)
                if released:
                    log.warning(
                        "released %d silent gateway process(es) (not seen for %.0f s) and "
                        "gave back the credit they still had reserved",
                        released,
                        self.hold_ttl_s,
                    )
            except ServiceUnavailable as exc:  # the database is down: try again next time
                misses += 1
                if misses == _MISSES_TO_WARN:
                    # Half the TTL without a beat: once the database is back, another
                    # replica may take this process for dead and give its holds back.
                    log.warning(
                        "key holder heartbeat missed %d times in a row (database: %s); "
                        "after %.0f s other gateways may release this process's reservations",
                        misses,
                        exc,
                        self.hold_ttl_s,
                    )
                else:
                    log.debug("key holder heartbeat skipped: %s", exc)
            except Exception:
                # Never let the keeper die: a silent holder is swept as dead after the TTL.
                log.exception("key holder heartbeat failed; retrying")
            await asyncio.sleep(self.hold_ttl_s / 6)

    async def authenticate(self, authorization: str | None) -> ApiKey | None:
        token = bearer(authorization)
        if token is None or not token.startswith(KEY_PREFIX):
            if self.require_keys:
                raise Unauthorized(
                    "This gateway requires an API key: send a tokenport key (tp-...) in the "
                    "`Authorization: Bearer` header or in `x-api-key`."
                )
            return None
        key = await self._lookup(token)
        if key is None:
            raise Unauthorized("The API key is not valid.")
        state = key.state(time.time())
        if state != "active":
            raise Unauthorized(f"The API key '{key.prefix}...' is {state}.")
        return key

    async def _lookup(self, token: str) -> ApiKey | None:
        # A short cache keeps a database read off most requests; revocation through this
        # process's admin API invalidates it at once, elsewhere within `cache_ttl_s`.
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await asyncio.to_thread(self.keys.by_secret, token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self.cache_ttl_s, key)
        return key

    def forget(self) -> None:
        self._cache.clear()

    def check_models(self, key: ApiKey, request: ChatRequest) -> None:
        if not key.allowed_models:
            return
        for model in [request.model, *(request.models or [])]:
            if not model_allowed(key.allowed_models, model):
                raise Forbidden(
                    f"This key may not use '{model}'. Allowed: {', '.join(key.allowed_models)}."
                )

    async def admit(self, key: ApiKey, request: ChatRequest, routes: list[Route]) -> Reservation:
        self.check_models(key, request)
        await self.limiter.admit(key.id, key.rpm, key.tpm)
        if key.credit_limit_nano is None:
            return Reservation(key, 0)
        if request.output_cap() is None:
            request.max_tokens = DEFAULT_RESERVED_OUTPUT
        cap = request.output_cap() or DEFAULT_RESERVED_OUTPUT
        prompt = self.counter.rough_messages(request.messages)
        worst = max(max_cost_usd(prompt, cap, r.pricing) for r in routes)
        nano = to_nano(worst)
        if not await asyncio.to_thread(self.keys.reserve, key.id, nano):
            raise PaymentRequired(
                f"Insufficient credit: this request may cost up to ${worst:.6f} "
                f"({prompt} prompt + {cap} output tokens at the dearest candidate route), "
                f"more than the key has left. Top the key up or lower max_tokens."
            )
        return Reservation(key, nano)

    async def settle(self, reservation: Reservation, cost: float, tokens: int) -> None:
        key = reservation.key
        if key.credit_limit_nano is not None:
            await asyncio.to_thread(self.keys.settle, key.id, reservation.nano, to_nano(cost))
        await self.limiter.add_tokens(key.id, key.tpm, tokens)

    async def aclose(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
            try:
                await asyncio.to_thread(self.keys.retire)
            except ServiceUnavailable as exc:  # swept later by another process instead
                log.warning("could not release this process's key holds: %s", exc)
        await self.limiter.aclose()
        await asyncio.to_thread(self.keys.close)
