"""Budget alerts by webhook: a retried, HMAC-signed POST for each alert recorded.

The charge that takes a budget's period to 50, 80 or 100% records the alert once
(`ledger/budget_charges.py`); every gateway process polls for unsent ones. A process
*claims* an alert before sending it (one conditional UPDATE that also pushes its next try
back), so two processes never send the same attempt, and a failed POST is retried with
exponential backoff (`alert_poll_s` x 2, 4, 8, ...) up to `alert_max_attempts` times.

The body is JSON; `X-Tokenport-Signature: t=<unix>,v1=<hex>` is HMAC-SHA256 over
`"<unix>." + body` with the secret from `alert_webhook_secret_env`, so a receiver can check
both origin and freshness (the scheme Stripe's webhooks use).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time

import aiohttp
import msgspec

from tokenport.config import CompanyConfig
from tokenport.errors import ServiceUnavailable
from tokenport.security.keystore import KeyStore

log = logging.getLogger("tokenport.budgets")


class AlertEvent(msgspec.Struct, frozen=True):
    """The webhook's body."""

    type: str  # "budget.threshold"
    budget_id: str
    workspace_id: str | None
    level: str | None
    subject: str | None
    period: str | None
    period_start: int
    threshold: int  # percent
    usage: float  # USD, when the threshold was crossed
    limit: float


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class AlertSender:
    def __init__(self, keys: KeyStore, cfg: CompanyConfig, secret: str | None) -> None:
        self.keys = keys
        self.cfg = cfg
        self.secret = secret
        self._task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self.cfg.alert_webhook_url is None:
            return
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0))
        self._task = asyncio.create_task(self._loop(), name="budget-alerts")

    async def _loop(self) -> None:
        while True:
            try:
                await self.send_due()
            except ServiceUnavailable as exc:
                log.debug("budget alerts not polled: %s", exc)
            except Exception:
                log.exception("budget alert sender failed; retrying")
            await asyncio.sleep(self.cfg.alert_poll_s)

    async def send_due(self) -> int:
        """Send every alert due now that this process claims; return how many were sent."""
        sent = 0
        for event, attempts in await asyncio.to_thread(self._claim_due, time.time()):
            if await self._post(event):
                await asyncio.to_thread(self._mark_sent, event)
                sent += 1
            elif attempts >= self.cfg.alert_max_attempts:
                log.error("budget alert %s@%s gave up", event.budget_id, event.threshold)
        return sent

    def _claim_due(self, now: float) -> list[tuple[AlertEvent, int]]:
        p = self.keys.param
        rows, _ = self.keys.execute(
            "SELECT a.budget_id, a.period_start, a.threshold, a.usage_nano, a.limit_nano, "
            "a.attempts, b.workspace_id, b.level, b.subject, b.period FROM budget_alerts a "
            "LEFT JOIN budgets b ON b.id = a.budget_id "
            f"WHERE a.sent_at IS NULL AND a.next_at <= {p} AND a.attempts < {p} "
            "ORDER BY a.created_at LIMIT 100",
            (now, self.cfg.alert_max_attempts),
        )
        claimed = []
        for r in rows:
            attempts = int(r[5]) + 1
            next_at = now + self.cfg.alert_poll_s * 2**attempts
            _, won = self.keys.execute(
                f"UPDATE budget_alerts SET attempts = {p}, next_at = {p} WHERE budget_id = {p} "
                f"AND period_start = {p} AND threshold = {p} AND attempts = {p} "
                "AND sent_at IS NULL",
                (attempts, next_at, r[0], r[1], r[2], r[5]),
            )
            if won == 1:
                event = AlertEvent(
                    "budget.threshold",
                    r[0],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    int(r[1]),
                    int(r[2]),
                    r[3] / 1e9,
                    r[4] / 1e9,
                )
                claimed.append((event, attempts))
        return claimed

    async def _post(self, event: AlertEvent) -> bool:
        url = self.cfg.alert_webhook_url
        if self._client is None or url is None:  # not started: nothing to send to
            return False
        body = msgspec.json.encode(event)
        headers = {"content-type": "application/json"}
        if self.secret:
            headers["x-tokenport-signature"] = sign(self.secret, body, int(time.time()))
        try:
            async with self._client.post(url, data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("budget alert webhook failed: %s", exc)
            return False
        if 200 <= status < 300:
            return True
        log.warning("budget alert webhook answered %d", status)
        return False

    def _mark_sent(self, event: AlertEvent) -> None:
        p = self.keys.param
        self.keys.execute(
            f"UPDATE budget_alerts SET sent_at = {p} WHERE budget_id = {p} "
            f"AND period_start = {p} AND threshold = {p}",
            (time.time(), event.budget_id, event.period_start, event.threshold),
        )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.close()
