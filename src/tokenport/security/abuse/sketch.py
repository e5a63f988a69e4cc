"""Near-duplicate sketches: MinHash over word shingles, kept as LSH bands.

A text's shingles are its words and word pairs. `BANDS` bands of `ROWS` MinHash values each
are hashed to 32 bits; two texts with Jaccard similarity J share at least one band with
probability 1 - (1 - J**ROWS)**BANDS: about 0.97 at J = 0.7, 0.75 at J = 0.5, 0.15 at
J = 0.2, so sharing a band means "near-duplicate", and the band values are what the scan
groups on. Four bands pack into two 63-bit integers (`pack`); 0 means no text.

Hashing is vectorised with numpy (a per-shingle CRC32, then multiply-add permutations mod
2**64); a 4,000-character prompt costs well under a millisecond.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

BANDS = 4
ROWS = 2
_WORD = re.compile(r"<\w+>|\w+", re.U)
_RNG = np.random.default_rng(20260217)  # fixed: sketches must agree across processes
_A = _RNG.integers(1, 2**63, size=BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, size=BANDS * ROWS, dtype=np.uint64)
_MIX = np.array([0x9E3779B97F4A7C15 >> i for i in range(ROWS)], dtype=np.uint64)
_MASK63 = (1 << 63) - 1
_PAIR = np.uint64(0x100000001B3)
_PAIR_SALT = np.uint64(0x632BE59BD9B4E019)
_MASK64 = (1 << 64) - 1
_PAIR_INT, _SALT_INT = int(_PAIR), int(_PAIR_SALT)
_AB_INT = [(int(a), int(b)) for a, b in zip(_A, _B, strict=True)]
_MIX_INT = [int(m) for m in _MIX]
_U32, _U31, _U32MASK, _ONE = np.uint64(32), np.uint64(31), np.uint64(0xFFFFFFFF), np.uint64(1)
_EMPTY = (0,) * BANDS
_SMALL = 16  # shingles (about 8 words): the pure-Python path is cheaper up to here


def h63(text: str) -> int:
    """A stable 63-bit hash (never 0) of a string; 0 for the empty string."""
    if not text:
        return 0
    return (int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest()) & _MASK63) or 1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _crc(ws: list[str]) -> list[int]:
    return [zlib.crc32(w.encode()) for w in ws]


def shingles(ws: list[str]) -> npt.NDArray[np.uint64]:
    """Hashes of the words and of each pair of neighbours."""
    h = np.array(_crc(ws), dtype=np.uint64)
    # uint64 array arithmetic wraps modulo 2**64 without a warning (scalars would warn).
    return np.concatenate((h, h[:-1] * _PAIR + h[1:] + _PAIR_SALT))


def bands(text: str) -> tuple[int, ...]:
    return bands_of(words(text))


def bands_of(ws: list[str]) -> tuple[int, ...]:
    """`BANDS` 32-bit band values; all 0 for a text without words."""
    return bands_many([ws])[0]


def bands_many(texts: Sequence[list[str]]) -> list[tuple[int, ...]]:
    """`bands_of` for several word lists in one numpy pass (a request's prompt and its
    template; a batch of prompts): numpy's cost is mostly per call, not per shingle.

    Short texts take a pure-Python path instead, which is exact to the same bits (the same
    products modulo 2**64) and cheaper below `_SMALL` shingles, where numpy's fixed cost of
    about ten calls would dominate."""
    out: list[tuple[int, ...]] = [_EMPTY] * len(texts)
    large: list[int] = []
    for i, ws in enumerate(texts):
        if not ws:
            continue
        if 2 * len(ws) - 1 <= _SMALL:
            out[i] = _bands_py(_crc(ws))
        else:
            large.append(i)
    if large:
        for i, b in zip(large, _bands_np([texts[i] for i in large]), strict=True):
            out[i] = b
    return out


def _bands_py(h: list[int]) -> tuple[int, ...]:
    sh = h + [(a * _PAIR_INT + b + _SALT_INT) & _MASK64 for a, b in itertools.pairwise(h)]
    # min(x >> 32) == min(x) >> 32: the shift is monotonic.
    mins = [min([(x * a + b) & _MASK64 for x in sh]) >> 32 for a, b in _AB_INT]
    out = []
    for band in range(BANDS):
        row = mins[band * ROWS : (band + 1) * ROWS]
        mixed = sum(m * k for m, k in zip(row, _MIX_INT, strict=True)) & _MASK64
        out.append(((mixed >> 31) & 0xFFFFFFFF) | 1)
    return tuple(out)


def _bands_np(texts: Sequence[list[str]]) -> list[tuple[int, ...]]:
    parts = [shingles(ws) for ws in texts]
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    perm = np.multiply.outer(_A, np.concatenate(parts))
    perm += _B[:, None]
    perm >>= _U32
    mins = np.minimum.reduceat(perm, starts, axis=1)  # (BANDS * ROWS, texts)
    rows = mins.T.reshape(len(texts), BANDS, ROWS)
    mixed = (rows * _MIX).sum(axis=2, dtype=np.uint64)
    vals = ((mixed >> _U31) & _U32MASK) | _ONE
    return [tuple(v) for v in vals.tolist()]


def pack(values: tuple[int, ...]) -> tuple[int, int]:
    """Four 32-bit bands -> two 63-bit integers (each band keeps 31 bits and its index)."""
    a = ((values[0] & 0x7FFFFFFF) << 32) | (values[1] & 0xFFFFFFFF)
    b = ((values[2] & 0x7FFFFFFF) << 32) | (values[3] & 0xFFFFFFFF)
    return a & _MASK63, b & _MASK63


def unpack(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
    """Packed columns -> one array per band, each value tagged with its band index (so that
    equal values in different bands never meet); 0 stays 0 (no text)."""
    out: list[npt.NDArray[np.int64]] = []
    for i, col in enumerate((a >> 32, a & 0xFFFFFFFF, b >> 32, b & 0xFFFFFFFF)):
        tagged = (col.astype(np.int64) << 2) | i
        out.append(np.where(col == 0, 0, tagged))
    return out
