"""Request ids: ULIDs (48-bit millisecond time, 80 random bits, Crockford base32), made fast.

`python-ulid`'s `ULID()` costs several microseconds per id (an object, a monotonic-policy
check, a read of `os.urandom`); a gateway makes one per request, so ids are built here from
the same parts in one expression. They are valid ULIDs (`ulid.ULID.from_str` reads them) and
sort by time. The random part is not a secret: an id grants nothing without the key that made
it (`GET /api/v1/generation` checks ownership), so Python's seeded PRNG is enough.
"""

from __future__ import annotations

import random
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits at a time
_SHIFTS = range(130, -10, -10)


def ulid(ts: float | None = None) -> str:
    """A ULID for now, or for Unix time `ts` (the simulator's clock)."""
    ms = time.time_ns() // 1_000_000 if ts is None else int(ts * 1000)
    # The 128 bits, shifted left by 10, fill fourteen 10-bit groups (140 bits, 28 characters)
    # as two zero bits, the 128, then ten zero bits: the first 26 characters are the ULID.
    value = ((ms << 80) | random.getrandbits(80)) << 10
    return "".join([_PAIRS[(value >> s) & 1023] for s in _SHIFTS])[:26]
