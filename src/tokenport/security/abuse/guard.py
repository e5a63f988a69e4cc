"""The abuse policy at admission: one dictionary lookup per request.

Each gateway process keeps the actions in force (`actions.py`) in memory and reloads them
in a task of its own, on a thread of its own, never on a request's path, so an action
written anywhere (`tokenport abuse act`, another replica) is in force within `[abuse]
refresh_s` however busy the gateway is; an admin's action through this process's API
applies at once (`reload`). A flagged key passes; a throttled key gets the policy's lower
limits (429 `abuse_throttled`); a key in review or blocked is refused (403 `abuse_review`,
`abuse_blocked`). Clients read the code and a reference to the action, never the
detectors' evidence, which would teach evasion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
        self._loader: asyncio.Task[None] | None = None
        # A thread of its own. On the default pool a reload queued behind the requests' own
        # blocking calls (key lookups, credit reservations waiting on the database's write
        # lock, token counting): under load an action came into force well after refresh_s.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="abuse-actions")

    def start(self) -> None:
        self._loader = asyncio.get_running_loop().create_task(
            self._keep_loaded(), name="abuse-actions"
        )

    async def _keep_loaded(self) -> None:
        # Twice per refresh_s, on a timer rather than when requests happen to come: an action
        # written just after a reload began is read by the next one, so it is in force
        # within refresh_s as long as a reload takes less than half of it.
        while True:
            await self.reload()
            await asyncio.sleep(self.cfg.refresh_s / 2)

    async def reload(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._force = await loop.run_in_executor(self._thread, self.store.in_force)
        except ServiceUnavailable as exc:  # keep the last known actions until it is back
            log.warning("abuse actions not reloaded: %s", exc)
        except Exception:  # never let the loader die: the actions would silently freeze
            log.exception("abuse actions not reloaded")

    def action(self, key_id: str) -> Action | None:
        return self._force.get(key_id)

    async def enforce(self, key: ApiKey, limiter: Limiter, tokens: Callable[[], int]) -> None:
        """Raise the action's refusal for `key`, or return to admit it."""
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
        if self._loader is not None:
            self._loader.cancel()
            await asyncio.wait([self._loader])
        await asyncio.get_running_loop().run_in_executor(self._thread, self.store.close)
        self._thread.shutdown(wait=False)
