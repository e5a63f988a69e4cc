"""The abuse policy at admission: one dictionary lookup per request.

Each gateway process keeps the actions in force (`actions.py`) in memory and reloads them
every `[abuse] refresh_s` in a worker thread, never on a request's path; an admin's action
through this process's API applies at once (`reload`). A flagged key passes; a throttled
key gets the policy's lower limits (429 `abuse_throttled`); a key in review or blocked is
refused (403 `abuse_review`, `abuse_blocked`). Clients read the code and a reference to
the action, never the detectors' evidence, which would teach evasion.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from tokenport.config import AbuseConfig
from tokenport.errors import (
    AbuseBlocked,
    AbuseReview,
    AbuseThrottled,
    RateLimited,
    ServiceUnavailable,
)
from tokenport.security.abuse.actions import Action, ActionStore
from tokenport.security.keys import ApiKey
from tokenport.security.limits import Limiter

log = logging.getLogger("tokenport.abuse")


class AbuseGuard:
    def __init__(self, store: ActionStore, cfg: AbuseConfig) -> None:
        self.store = store
        self.cfg = cfg
        self._force: dict[str, Action] = {}
        self._next = 0.0
        self._loading: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._next = 0.0
        self._maybe_refresh()

    def _maybe_refresh(self) -> None:
        now = time.monotonic()
        if now < self._next or (self._loading is not None and not self._loading.done()):
            return
        self._next = now + self.cfg.refresh_s
        self._loading = asyncio.get_running_loop().create_task(self.reload())

    async def reload(self) -> None:
        try:
            self._force = await asyncio.to_thread(self.store.in_force)
        except ServiceUnavailable as exc:  # keep the last known actions until it is back
            log.warning("abuse actions not reloaded: %s", exc)

    def action(self, key_id: str) -> Action | None:
        return self._force.get(key_id)

    async def enforce(self, key: ApiKey, limiter: Limiter, tokens: Callable[[], int]) -> None:
        """Raise the action's refusal for `key`, or return to admit it."""
        self._maybe_refresh()
        a = self._force.get(key.id)
        if a is None or a.action == "flag":
            return
        if a.action == "block":
            raise AbuseBlocked(
                f"This key is blocked by the gateway's abuse policy (reference {a.id}). "
                "Contact the gateway's operator."
            )
        if a.action == "review":
            raise AbuseReview(
                f"This key is held for review under the gateway's abuse policy (reference "
                f"{a.id}). Contact the gateway's operator."
            )
        tpm = self.cfg.throttle_tpm
        try:
            await limiter.admit(
                f"abuse:{key.id}", self.cfg.throttle_rpm, tpm, tokens() if tpm else 0
            )
        except RateLimited as exc:
            raise AbuseThrottled(
                f"This key is throttled by the gateway's abuse policy to "
                f"{self.cfg.throttle_rpm} requests per minute"
                + (f" and {tpm} tokens per minute" if tpm else "")
                + f" (reference {a.id}); retry in {exc.retry_after:.1f}s.",
                exc.retry_after,
            ) from None

    async def aclose(self) -> None:
        if self._loading is not None:
            self._loading.cancel()
        await asyncio.to_thread(self.store.close)
