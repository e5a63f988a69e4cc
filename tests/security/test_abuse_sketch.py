"""The sketch's two paths (pure Python for short texts, numpy for the rest, one pass for
several texts) must give the same bits: sketches are compared across requests, processes
and days, so a path that differed would split one prompt's near-duplicates in two."""

from __future__ import annotations

import random

import numpy as np

from tokenport.security.abuse import sketch


def _reference(ws: list[str]) -> tuple[int, ...]:
    """The definition, written plainly with numpy over one text (the code before the fast
    paths): MinHash over word and word-pair CRCs, two rows per band, mixed to 32 bits."""
    if not ws:
        return (0,) * sketch.BANDS
    base = sketch.shingles(ws)
    perm = base[None, :] * sketch._A[:, None] + sketch._B[:, None]
    mins = (perm >> np.uint64(32)).min(axis=1).reshape(sketch.BANDS, sketch.ROWS)
    mixed = (mins * sketch._MIX[None, :]).sum(axis=1, dtype=np.uint64)
    out = ((mixed >> np.uint64(31)) & np.uint64(0xFFFFFFFF)) | np.uint64(1)
    return tuple(int(v) for v in out)


def _texts(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(200)] + ["the", "<n>", "<name>", "é", "x"]
    lengths = [0, 1, 2, 3, 7, 8, 9, 10, 16, 40, 300]
    return [[rng.choice(vocab) for _ in range(rng.choice(lengths))] for _ in range(count)]


def test_short_and_long_paths_agree_with_the_definition() -> None:
    for ws in _texts(1, 400):
        assert sketch.bands_of(ws) == _reference(ws), ws


def test_many_texts_in_one_pass_equal_each_alone() -> None:
    texts = _texts(2, 60)
    assert sketch.bands_many(texts) == [_reference(ws) for ws in texts]


def test_near_duplicates_share_a_band_and_strangers_do_not() -> None:
    a = sketch.bands("Explain photosynthesis at a graduate level and solve a worked example.")
    b = sketch.bands("Explain photosynthesis at a graduate level and solve a worked example!")
    c = sketch.bands("What should I cook for dinner tonight with leftover rice and eggs")
    assert a == b
    assert not set(a) & set(c)
