from __future__ import annotations

import time

from ulid import ULID

from tokenport.ids import ulid


def test_ids_are_ulids_of_now() -> None:
    ids = [ulid() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for i in ids[:50]:
        parsed = ULID.from_str(i)
        assert str(parsed) == i
        assert abs(parsed.timestamp - time.time()) < 5


def test_an_id_for_a_given_time_carries_it_and_sorts_by_it() -> None:
    early, late = ulid(1_700_000_000.25), ulid(1_700_000_001.0)
    assert ULID.from_str(early).timestamp == 1_700_000_000.25
    assert early < late
