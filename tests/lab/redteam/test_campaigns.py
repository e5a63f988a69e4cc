"""Evasive campaign generators: each hides what its style says it hides."""

from __future__ import annotations

import random
from collections import Counter

from tokenport.lab.redteam import campaigns
from tokenport.lab.redteam.model import Account, Window

W = Window(1_795_392_000.0, 7)


def _make(style: str, n: int, effort: float, seed: int = 7) -> list[Account]:
    return campaigns.STYLES[style](random.Random(seed), W, n, effort, style)


def test_every_style_yields_labelled_traffic_inside_the_window() -> None:
    for style in campaigns.STYLES:
        accts = _make(style, 4, 0.7)
        assert accts and all(a.label == "abuse" and a.group == style for a in accts)
        assert all(a.requests for a in accts)
        assert all(W.start <= r.ts < W.end + 86400 for a in accts for r in a.requests)
        assert all(a.created_at <= min(r.ts for r in a.requests) for a in accts)


def test_slow_and_low_stays_at_an_ordinary_per_key_rate() -> None:
    for a in _make("slow_and_low", 30, 1.0):
        per_day = Counter(int((r.ts - W.start) // 86400) for r in a.requests)
        assert max(per_day.values()) <= 8
        assert len(a.requests) <= 8 * W.days
        assert len(per_day) >= W.days // 2  # spread over days, not one burst


def test_rotating_changes_address_and_client_at_high_effort_only() -> None:
    hi = _make("rotating", 3, 1.0)
    lo = _make("rotating", 3, 0.0)
    for a in hi:
        assert len({r.ip.rsplit(".", 1)[0] for r in a.requests}) >= 5
        assert len({r.user_agent for r in a.requests}) >= 3
    assert len({r.ip.rsplit(".", 1)[0] for a in lo for r in a.requests}) <= 3


def test_aged_keys_are_bought_long_before_use() -> None:
    for a in _make("aged_keys", 10, 1.0):
        assert min(r.ts for r in a.requests) - a.created_at >= 3 * 86400


def test_effort_spreads_key_purchases_and_unpins_max_tokens() -> None:
    lo, hi = _make("paraphrase_cot", 10, 0.0), _make("paraphrase_cot", 10, 1.0)
    assert len({a.created_ip for a in lo}) == 1
    assert max(a.created_at for a in lo) - min(a.created_at for a in lo) < 3600
    assert len({a.created_ip for a in hi}) >= 8
    assert {r.max_tokens for a in lo for r in a.requests} == {8192}
    assert len({r.max_tokens for a in hi for r in a.requests}) >= 4


def test_blend_mixes_a_minority_of_harvesting_into_chat() -> None:
    for a in _make("blend", 5, 1.0):
        coerced = sum(r.max_tokens is not None or r.reasoning for r in a.requests)
        assert 0 < coerced < len(a.requests)


def test_specialists_each_keep_to_one_subject_and_together_cover_all() -> None:
    from tokenport.lab.redteam import words

    accts = _make("specialist_sweep", len(words.SUBJECTS), 1.0)
    covered = set()
    for a in accts:
        text = " ".join(r.messages[-1].content.lower() for r in a.requests)
        mine = {s for s, cs in words.SUBJECTS.items() if any(c.lower() in text for c in cs)}
        assert len(mine) == 1
        covered |= mine
    assert covered == set(words.SUBJECTS)
