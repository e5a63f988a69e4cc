"""Who may send a request, and whether they can afford it: the checks before any upstream call.

authenticate -> allowed models -> rate limits (reserving the worst-case tokens per minute)
-> reserve the request's worst-case cost (`worst_case.py`), or 402 if the key cannot cover it.
After the request, `settle` replaces both reservations with what was actually used.

Settling never fails the request: the answer exists by then. If the key database is down,
the charge is retried here until it lands, and the request's ledger record carries its hold
(`ctx.hold`), so the ledger charges it when the database is back, or on the next start after
a crash (`ledger/charges.py`). Either way it is charged exactly once.

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

from tokenport.errors import (
    BadRequest,
    Forbidden,
    PaymentRequired,
    ServiceUnavailable,
    Unauthorized,
)
from tokenport.ledger.record import KeyHold
from tokenport.security.abuse.guard import AbuseGuard
from tokenport.security.alerts import AlertSender
from tokenport.security.budgets import Budget, BudgetBook, period_end, period_start
from tokenport.security.guardrails import GuardrailBook, enforce
from tokenport.security.keys import KEY_PREFIX, NANO, ApiKey, to_nano
from tokenport.security.keystore import KeyStore
from tokenport.security.limits import Limiter
from tokenport.security.refresh import BookCache
from tokenport.security.worst_case import DEFAULT_OUTPUT, WorstCase, output_bound, worst_case
from tokenport.tokens import TokenCounter
from tokenport.values import ChatRequest, Route

log = logging.getLogger("tokenport.security")

# A request with no output cap, at a key with a credit or token limit, on a route whose
# maximum output is unknown, is capped here, so that its reservation has a bound.
DEFAULT_RESERVED_OUTPUT = DEFAULT_OUTPUT


@dataclass(slots=True)
class Reservation:
    key: ApiKey
    nano: int  # credit held on the key (0: no credit limit)
    tokens: int = 0  # tokens held in the key's TPM window
    window: int = 0
    record_id: str | None = None  # the request's ledger id: its charge lands once
    holder: str | None = None
    slots: list[str] = field(default_factory=list)  # budget periods reserved on too
    redacted: dict[str, int] = field(default_factory=dict)  # guardrail redactions, by kind

    @property
    def hold(self) -> KeyHold | None:
        """What the request's ledger record carries, so the ledger can charge it."""
        if self.holder is None or (self.key.credit_limit_nano is None and not self.slots):
            return None
        return KeyHold(self.holder, self.nano, self.slots)


@dataclass(slots=True)
class _Unsettled:
    reservation: Reservation
    actual_nano: int


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
    abuse: AbuseGuard | None = None  # the abuse policy's actions (security/abuse/guard.py)
    budgets: BookCache[BudgetBook] | None = None  # budgets in force (security/budgets.py)
    guardrails: BookCache[GuardrailBook] | None = None  # (security/guardrails.py)
    alerts: AlertSender | None = None  # budget alerts by webhook (security/alerts.py)
    _cache: dict[str, tuple[float, ApiKey | None]] = field(default_factory=dict)
    _keeper: asyncio.Task[None] | None = None
    _unsettled: list[_Unsettled] = field(default_factory=list)

    def start(self) -> None:
        """Keep this process's reservation holder alive, and sweep up dead ones."""
        self._keeper = asyncio.create_task(self._keep_holds(), name="key-holds")
        if self.abuse is not None:
            self.abuse.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.budgets is not None:
            self.budgets.start()
        if self.guardrails is not None:
            self.guardrails.start()

    async def _keep_holds(self) -> None:
        # Heartbeat well inside the TTL, so a live process is never taken for dead.
        misses = 0
        while True:
            try:
                await asyncio.to_thread(self.keys.heartbeat)
                if misses >= _MISSES_TO_WARN:
                    log.warning("key holder heartbeat restored after %d missed beats", misses)
                misses = 0
                await self.retry_unsettled()
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

    def cached_key_id(self, token: str) -> str | None:
        """The id of the key behind `token` if this process looked it up lately, expired or
        not (a token's key never changes): a refusal's record, without a database read."""
        hit = self._cache.get(token)
        return hit[1].id if hit is not None and hit[1] is not None else None

    def forget(self) -> None:
        self._cache.clear()

    def check_models(self, key: ApiKey, request: ChatRequest) -> None:
        if key.scope != "inference":
            raise Forbidden(
                f"The key '{key.prefix}...' is a management key: it manages keys and budgets "
                "through /api/v1 and cannot make inference requests."
            )
        if not key.allowed_models:
            return
        for model in [request.model, *(request.models or [])]:
            if not model_allowed(key.allowed_models, model):
                raise Forbidden(
                    f"This key may not use '{model}'. Allowed: {', '.join(key.allowed_models)}."
                )

    async def admit(
        self,
        key: ApiKey,
        request: ChatRequest,
        routes: list[Route],
        record_id: str | None = None,
        now: float | None = None,
    ) -> Reservation:
        """Check the key's limits and reserve the request's worst case on them, and on every
        budget above the key (its member's, its workspace's: `security/budgets.py`).

        `record_id`: the id the request's ledger record will have, so that its charge is
        applied once whether the gateway or the ledger gets to it first. `now`: the
        request's time (a simulated one under `simulation`), which picks budget periods.
        """
        self.check_models(key, request)
        redacted = await self._guardrails(key, request, routes)
        if self.abuse is not None:
            await self.abuse.enforce(key, self.limiter, lambda: self._worst(request, routes).tokens)
        slots = await self._budget_slots(key, now)
        if key.credit_limit_nano is None and not key.tpm and not slots:
            await self.limiter.admit(key.id, key.rpm, None)
            return Reservation(key, 0, record_id=record_id, redacted=redacted)
        worst = self._worst(request, routes)
        if key.tpm and worst.tokens > key.tpm:
            raise BadRequest(
                f"This request may use up to {worst.tokens} tokens ({worst.prompt_tokens} "
                f"prompt + {worst.output_tokens} output, x{worst.choices} choices), more than "
                f"this key's limit of {key.tpm} tokens per minute. Lower max_tokens or n.",
                param="max_tokens",
            )
        window = await self.limiter.admit(key.id, key.rpm, key.tpm, worst.tokens if key.tpm else 0)
        reservation = Reservation(
            key,
            0,
            worst.tokens if key.tpm else 0,
            window,
            record_id,
            self.keys.holder,
            slots,
            redacted,
        )
        if key.credit_limit_nano is None and not slots:
            return reservation
        try:
            refused = await asyncio.to_thread(self.keys.reserve_all, key.id, worst.nano, slots)
        except BaseException:
            await self._release_tokens(reservation)
            raise
        if refused is not None:
            await self._release_tokens(reservation)
            if refused == "key":
                raise await self._refusal(key, worst)
            raise await self._budget_refusal(refused, worst, now)
        reservation.nano = worst.nano
        return reservation

    async def _guardrails(
        self, key: ApiKey, request: ChatRequest, routes: list[Route]
    ) -> dict[str, int]:
        """The workspace's and the key's guardrails: refuse (403), or what was redacted."""
        cache = self.guardrails
        if cache is None:
            return {}
        policies = (await cache.ready()).for_key(key)
        if not policies:
            return {}
        redacted = enforce(policies, request, routes)
        if redacted:  # counted, never stored: the kinds and how many, not the text
            log.info("guardrail redacted %s for key %s", redacted, key.id)
        return redacted

    async def _budget_slots(self, key: ApiKey, now: float | None) -> list[str]:
        """The budget periods above `key` at `now`: none, at no cost, when there are none."""
        cache = self.budgets
        if cache is None:
            return []
        book = await cache.ready()  # loaded once per process before it is trusted
        return book.slots(key, time.time() if now is None else now)

    def _worst(self, request: ChatRequest, routes: list[Route]) -> WorstCase:
        if request.output_cap() is None and any(output_bound(request, r) is None for r in routes):
            # Nothing bounds the answer's length: bound it, or no reservation could.
            request.max_tokens = DEFAULT_RESERVED_OUTPUT
        return worst_case(request, routes)

    async def _refusal(self, key: ApiKey, worst: WorstCase) -> PaymentRequired:
        now = await asyncio.to_thread(self.keys.get, key.id)
        limit = now.credit_limit_nano or 0
        if now.usage_nano >= limit:
            return PaymentRequired(
                f"This key has spent ${now.usage_nano / NANO:.6f} of its ${limit / NANO:.6f} "
                "limit (a request can cost more than was reserved for it, and that debt is "
                "charged). Top the key up to use it again."
            )
        return PaymentRequired(
            f"Insufficient credit: this request may cost up to ${worst.usd:.6f} "
            f"({worst.prompt_tokens} prompt + {worst.output_tokens} output tokens, "
            f"x{worst.choices} choices, at the dearest candidate route), more than the key "
            "has left. Top the key up, or lower max_tokens or n."
        )

    async def _budget_refusal(
        self, budget_id: str, worst: WorstCase, now: float | None
    ) -> PaymentRequired:
        budget = self.budgets.book.get(budget_id) if self.budgets is not None else None
        if budget is None:  # deleted since this process loaded it: reload, try again
            if self.budgets is not None:
                await self.budgets.reload()
            return PaymentRequired(
                f"A budget ({budget_id}) changed while this request was admitted; retry it."
            )
        return await asyncio.to_thread(self._budget_message, budget, worst, now)

    def _budget_message(self, b: Budget, worst: WorstCase, now: float | None) -> PaymentRequired:
        start = period_start(b.period, time.time() if now is None else now)
        rows, _ = self.keys.execute(self.keys.budget_sql.usage, (b.id, start))
        used, held = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
        end = period_end(b.period, start)
        resets = (
            "it never resets"
            if end is None
            # Periods end at midnight UTC; a date only (error messages are scrubbed of
            # anything that looks like an address, and "T00:00:00" does).
            else "it resets at the start of " + time.strftime("%Y-%m-%d", time.gmtime(end)) + " UTC"
        )
        return PaymentRequired(
            f"Budget exceeded: this request may cost up to ${worst.usd:.6f}, more than "
            f"{b.describe()} has left: ${used / NANO:.6f} spent and ${held / NANO:.6f} "
            f"reserved of its ${b.limit_nano / NANO:.6f} this period ({resets})."
        )

    async def settle(self, reservation: Reservation, cost: float, tokens: int) -> None:
        """Replace the reservations with what the request used. Never raises for an outage:
        the answer exists, and the charge is retried (and is in the ledger's journal)."""
        if reservation.hold is not None:
            item = _Unsettled(reservation, to_nano(cost))
            if not await self._charge(item):
                self._unsettled.append(item)
        await self._settle_tokens(reservation, tokens)

    async def _charge(self, item: _Unsettled) -> bool:
        """Whether the charge landed (or had landed before); False to try again later."""
        r = item.reservation
        try:
            await asyncio.to_thread(
                self.keys.settle, r.key.id, r.nano, item.actual_nano, r.record_id, r.slots
            )
        except ServiceUnavailable as exc:
            log.warning("charge for %s deferred (key database down): %s", r.record_id, exc)
            return False
        return True

    async def retry_unsettled(self) -> None:
        """Retry the charges an outage deferred, oldest first, until one fails again."""
        while self._unsettled:
            if not await self._charge(self._unsettled[0]):
                return
            self._unsettled.pop(0)

    async def _settle_tokens(self, reservation: Reservation, tokens: int) -> None:
        key = reservation.key
        try:
            if reservation.tokens:
                await self.limiter.settle(
                    key.id, key.tpm, reservation.window, reservation.tokens, tokens
                )
            else:
                await self.limiter.add_tokens(key.id, key.tpm, tokens)
        except ServiceUnavailable as exc:  # the window keeps the (larger) reservation
            log.warning("tokens per minute not settled for %s: %s", key.id, exc)

    async def _release_tokens(self, reservation: Reservation) -> None:
        await self._settle_tokens(reservation, 0)

    async def aclose(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
            try:
                await self.retry_unsettled()
                await asyncio.to_thread(self.keys.retire)
            except ServiceUnavailable as exc:  # swept later by another process instead
                log.warning("could not release this process's key holds: %s", exc)
        await self.limiter.aclose()
        await asyncio.to_thread(self.keys.close)
        if self.abuse is not None:
            await self.abuse.aclose()
        if self.budgets is not None:
            await self.budgets.aclose()
        if self.guardrails is not None:
            await self.guardrails.aclose()
        if self.alerts is not None:
            await self.alerts.aclose()
