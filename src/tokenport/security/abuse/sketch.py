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
import re
import zlib

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


def h63(text: str) -> int:
    """A stable 63-bit hash (never 0) of a string; 0 for the empty string."""
    if not text:
        return 0
    return (int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest()) & _MASK63) or 1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(ws: list[str]) -> npt.NDArray[np.uint64]:
    """Hashes of the words and of each pair of neighbours."""
    h = np.fromiter(map(zlib.crc32, map(str.encode, ws)), np.uint64, len(ws))
    with np.errstate(over="ignore"):
        pairs = h[:-1] * _PAIR + h[1:] + np.uint64(0x632BE59BD9B4E019)
    return np.concatenate((h, pairs))


def bands(text: str) -> tuple[int, ...]:
    return bands_of(words(text))


def bands_of(ws: list[str]) -> tuple[int, ...]:
    """`BANDS` 32-bit band values; all 0 for a text without words."""
    if not ws:
        return (0,) * BANDS
    base = shingles(ws)
    with np.errstate(over="ignore"):
        perm = base[None, :] * _A[:, None] + _B[:, None]
    mins = (perm >> np.uint64(32)).min(axis=1).reshape(BANDS, ROWS)
    with np.errstate(over="ignore"):
        mixed = (mins * _MIX[None, :]).sum(axis=1, dtype=np.uint64)
    out = ((mixed >> np.uint64(31)) & np.uint64(0xFFFFFFFF)) | np.uint64(1)
    return tuple(int(v) for v in out)


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
