"""Prompt features for the auto router, in numpy only, the same at train time and at runtime.

A prompt becomes one sparse vector:
- hashed word unigrams and bigrams (`\\w\\w+`, lowercased), sublinear tf (1 + ln count)
  times a smoothed idf, L2-normalized: the same recipe as a TF-IDF baseline, so subject and
  task cues (MMLU's law vs. algebra, GSM8K's percentages) come through;
- a few dense cues appended: length, numbers, math and code markers, turns. They are
  standardized on the training set and scaled so the block has norm about 1, like the
  TF-IDF block, so neither dominates the ridge penalty.

Hashing keeps the artifact free of a vocabulary and makes runtime featurization a regex, a
CRC32 per token and one `np.unique`. CRC32 rather than `hash()`, which is salted per process.
Only the last `max_chars` characters are read: that bounds decision latency on long chats,
and the newest turn is the one being routed.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_WORD = re.compile(r"\w\w+")
_DIGIT = re.compile(r"\d")
_MIX = np.uint64(0x9E3779B1)
_SALT = np.uint64(0x7F4A7C15)
_LOW32 = np.uint64(0xFFFFFFFF)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+\-*/^%$]")
_CODE = re.compile(r"```|\bdef |\breturn\b|[{};]|\bfunction\b|\bclass ")
DENSE_NAMES = ("log_chars", "log_numbers", "digit_frac", "log_math", "log_code", "log_turns")


class FeatureConfig(msgspec.Struct, frozen=True):
    hash_bits: int = 20
    max_chars: int = 6000
    bigrams: bool = True
    dense: bool = True


def hashed_counts(text: str, cfg: FeatureConfig) -> tuple[IntArray, FloatArray]:
    """Sorted hash buckets of the text's n-grams and their raw counts."""
    toks = _WORD.findall(text[-cfg.max_chars :].lower())
    if not toks:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    words = np.fromiter((zlib.crc32(t.encode()) for t in toks), np.uint64, len(toks))
    if cfg.bigrams:
        # A bigram's hash mixes its words' hashes: one CRC per token instead of per n-gram.
        pairs = ((words[:-1] * _MIX) ^ (words[1:] + _SALT)) & _LOW32
        words = np.concatenate([words, pairs])
    buckets = (words & np.uint64((1 << cfg.hash_bits) - 1)).astype(np.int64)
    idx, counts = np.unique(buckets, return_counts=True)
    return idx, counts.astype(np.float64)


def dense_cues(text: str, cfg: FeatureConfig) -> FloatArray:
    tail = text[-cfg.max_chars :]
    n = max(len(tail), 1)
    digits = len(tail) - len(_DIGIT.sub("", tail))
    return np.array(
        [
            math.log1p(len(text)),
            math.log1p(len(_NUMBER.findall(tail))),
            digits / n,
            math.log1p(len(_MATH.findall(tail))),
            math.log1p(len(_CODE.findall(tail))),
            math.log1p(text.count("\n\n")),
        ]
    )


class Vectorizer:
    """Fitted featurizer: `ids` are the hash buckets seen in training, sorted; `idf` theirs.

    Buckets never seen in training are dropped, as a vocabulary-based TF-IDF drops unknown
    words: they carry no weight in the model anyway.
    """

    def __init__(
        self,
        cfg: FeatureConfig,
        ids: IntArray,
        idf: FloatArray,
        dense_mean: FloatArray,
        dense_std: FloatArray,
    ) -> None:
        self.cfg = cfg
        self.ids = ids
        self.idf = idf
        self.dense_mean = dense_mean
        self.dense_std = dense_std

    @property
    def n_features(self) -> int:
        return len(self.ids) + (len(DENSE_NAMES) if self.cfg.dense else 0)

    @classmethod
    def fit(cls, texts: Sequence[str], cfg: FeatureConfig) -> Vectorizer:
        counted = [hashed_counts(t, cfg)[0] for t in texts]
        all_ids = np.concatenate(counted) if counted else np.zeros(0, np.int64)
        ids, df = np.unique(all_ids, return_counts=True)
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        cues = np.array([dense_cues(t, cfg) for t in texts]).reshape(len(texts), -1)
        mean = cues.mean(0) if len(texts) else np.zeros(len(DENSE_NAMES))
        std = cues.std(0) if len(texts) else np.ones(len(DENSE_NAMES))
        return cls(cfg, ids, idf, mean, np.where(std > 1e-12, std, 1.0))

    def transform(self, text: str) -> tuple[IntArray, FloatArray]:
        """Column indices (into `ids`, then the dense block) and values of one prompt."""
        buckets, counts = hashed_counts(text, self.cfg)
        return self.from_parts(buckets, counts, dense_cues(text, self.cfg))

    def from_parts(
        self, buckets: IntArray, counts: FloatArray, cues: FloatArray
    ) -> tuple[IntArray, FloatArray]:
        """The same vector from stored parts; feedback keeps these instead of the prompt."""
        pos = np.searchsorted(self.ids, buckets)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        known = (self.ids[pos] == buckets) if len(self.ids) else np.zeros(len(buckets), bool)
        cols = pos[known]
        vals = (1.0 + np.log(counts[known])) * self.idf[cols]
        norm = float(np.sqrt(vals @ vals))
        if norm > 0:
            vals = vals / norm
        if not self.cfg.dense:
            return cols, vals
        cue = (cues - self.dense_mean) / self.dense_std / math.sqrt(len(DENSE_NAMES))
        dense_cols = len(self.ids) + np.arange(len(DENSE_NAMES), dtype=np.int64)
        return np.concatenate([cols, dense_cols]), np.concatenate([vals, cue])
