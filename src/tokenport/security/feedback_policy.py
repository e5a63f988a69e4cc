"""Who may teach the auto router, and how much (`POST /api/v1/feedback`).

Anonymous feedback let 2,400 posts move keyed `model: "auto"` traffic from the strong model
to the weak one, and the log replayed that poison after every restart. Now:

- a key scores only generations made with that key, each one once (the router log keeps
  the generation id), so one key's influence is bounded by the traffic it paid for;
- a prompt and model without a generation id is the operator's labelling: admin key only
  (or an open gateway's own user);
- each key (and, on an open gateway, all anonymous callers together) may post at most
  `[auto] feedback_per_key_per_minute` scores, through the same limiter as requests, so the
  bound holds across replicas that share Redis;
- on a gateway that requires keys, replay skips logged events that carry no key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tokenport.errors import Forbidden, NotFound
from tokenport.ledger.record import LedgerRecord
from tokenport.security.access import Viewer
from tokenport.security.limits import Limiter


async def admit_feedback(
    viewer: Viewer,
    gen_id: str | None,
    direct: bool,
    get_record: Callable[[str], Awaitable[LedgerRecord | None]],
    limiter: Limiter,
    per_minute: int,
) -> None:
    """Raise unless `viewer` may post this score now. `direct`: a prompt and model given."""
    if direct and not viewer.sees_everything:
        raise Forbidden(
            "Scoring a prompt and model directly needs the admin key; a key scores its own "
            'generations: send {"id": "gen-...", "score": ...}.'
        )
    if gen_id is not None and not direct:
        record = await get_record(gen_id)
        # Another key's generation is reported exactly like a missing one.
        if record is None or not viewer.owns(record.key_id):
            raise NotFound(f"No generation '{gen_id}' made with this key.")
    if viewer.role != "admin":
        await limiter.admit(f"feedback:{viewer.key_id or 'anonymous'}", per_minute, None)
