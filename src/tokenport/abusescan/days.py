"""One day of `request_signals`, summarised per key: what the scan keeps so that it never has
to read a finished day again.

A day's summary is columnar (numpy):
- `stats[k, STAT]`: sums over key k's requests (counts, log lengths, gaps between requests);
- `hours[k, 24]` and `topics[k, T]`: histograms;
- `pairs[kind]`: (key, value, count) for each hashed thing a key used that day (template and
  prompt sketch bands, exact templates, system prompts, User-Agents, request shapes,
  max_tokens values, addresses, prefixes, models). Per key and kind only the `PAIRS_PER_DAY`
  smallest values are kept: a bottom-k sample, consistent across keys (two keys that share a
  value keep it alike), from which distinct counts are estimated too (`window.py`).

Finished days are stored in `abuse_days` (zlib'd msgpack), under `VERSION`: a change here
bumps it, and older summaries are recomputed.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from tokenport.db import Database
from tokenport.security.abuse import sketch, topics

VERSION = 1
DAY = 86_400
PAIRS_PER_DAY = 64
# Prompts shorter than this ("hi", "continue", "thanks") carry no template and are shared
# by everyone: they are left out of the sketch pairs.
MIN_SKETCH_CHARS = 25

# stats columns
STATS = (
    "n",
    "ok",
    "single",  # one user turn, no tool calls or results
    "tooled",  # tool calls or results in the conversation (an agent loop)
    "cot",  # the text asks for a chain of thought
    "reasoning",  # the request turns reasoning on
    "log_chars",  # sum of ln(1 + prompt chars), and of its square
    "log_chars2",
    "log_ctx",  # sum of ln(1 + context chars)
    "prompt_tokens",
    "completion_tokens",
    "short",  # prompts under MIN_SKETCH_CHARS
    "max_set",  # requests that set max_tokens
    "depth",
    "first",  # first and last request time
    "last",
    "gaps",  # gaps between a key's consecutive requests that day: count, sum ln, sum ln^2
    "log_gap",
    "log_gap2",
    "fast_gaps",  # gaps under 2 s
    "days",  # days with traffic
)
S = {name: i for i, name in enumerate(STATS)}
KINDS = (
    "template_band",
    "prompt_band",
    "template",
    "system",
    "ua",
    "shape",
    "max_tokens",
    "ip",
    "prefix",
    "model",
)

_COLUMNS = (
    "key_id, ts, status, prompt_tokens, completion_tokens, model, ip, prefix, ua, system, "
    "prompt_a, prompt_b, template_a, template_b, template, chars, context_chars, max_tokens, "
    "cot, tools, tool_turns, depth, topic, shape"
)


class Pairs(msgspec.Struct, array_like=True):
    key: bytes  # int32
    value: bytes  # int64
    count: bytes  # int32


class Encoded(msgspec.Struct, array_like=True):
    day: int
    records: int
    keys: list[str]
    stats: bytes
    hours: bytes
    topics: bytes
    pairs: dict[str, Pairs]
    names: dict[str, str]  # prefix / ip hash (as text) -> the prefix or address


Triple = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]


class DaySummary:
    def __init__(
        self,
        day: int,
        records: int,
        keys: list[str],
        stats: npt.NDArray[np.float64],
        hours: npt.NDArray[np.int32],
        topic_hist: npt.NDArray[np.int32],
        pairs: dict[
            str, tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]
        ],
        names: dict[int, str],
    ) -> None:
        self.day, self.records, self.keys = day, records, keys
        self.stats, self.hours, self.topics = stats, hours, topic_hist
        self.pairs = pairs
        self.names = names

    def encode(self) -> str:
        enc = Encoded(
            self.day,
            self.records,
            self.keys,
            self.stats.tobytes(),
            self.hours.tobytes(),
            self.topics.tobytes(),
            {
                k: Pairs(a.astype(np.int32).tobytes(), b.tobytes(), c.astype(np.int32).tobytes())
                for k, (a, b, c) in self.pairs.items()
            },
            {str(h): s for h, s in self.names.items()},
        )
        return base64.b64encode(zlib.compress(msgspec.msgpack.encode(enc), 3)).decode()

    @classmethod
    def decode(cls, text: str) -> DaySummary:
        enc = msgspec.msgpack.decode(zlib.decompress(base64.b64decode(text)), type=Encoded)
        k = len(enc.keys)
        return cls(
            enc.day,
            enc.records,
            enc.keys,
            np.frombuffer(enc.stats, np.float64).reshape(k, len(STATS)).copy(),
            np.frombuffer(enc.hours, np.int32).reshape(k, 24).copy(),
            np.frombuffer(enc.topics, np.int32).reshape(k, topics.count() + 1).copy(),
            {
                kind: (
                    np.frombuffer(p.key, np.int32),
                    np.frombuffer(p.value, np.int64),
                    np.frombuffer(p.count, np.int32),
                )
                for kind, p in enc.pairs.items()
            },
            {int(h): s for h, s in enc.names.items()},
        )


def read_rows(db: Database, start: float, end: float) -> Iterator[Sequence[Any]]:
    sql = (
        f"SELECT {_COLUMNS} FROM request_signals WHERE ts >= {db.param} AND ts < {db.param} "
        "AND key_id IS NOT NULL"
    )
    for batch in db.stream(sql, (start, end), 50_000):
        yield from batch


def summarise(day: int, rows: Sequence[Sequence[Any]]) -> DaySummary:
    """The summary of one day's rows (any order)."""
    nt = topics.count() + 1
    if not rows:
        empty_pairs = {
            k: (np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32)) for k in KINDS
        }
        return DaySummary(
            day,
            0,
            [],
            np.zeros((0, len(STATS))),
            np.zeros((0, 24), np.int32),
            np.zeros((0, nt), np.int32),
            empty_pairs,
            {},
        )
    index: dict[str, int] = {}
    cols = list(zip(*rows, strict=True))
    key = np.fromiter((index.setdefault(k, len(index)) for k in cols[0]), np.int64, len(rows))
    nk = len(index)
    ts = np.asarray(cols[1], np.float64)
    ok = np.fromiter((s == "ok" for s in cols[2]), bool, len(rows))
    i64 = {name: np.asarray(cols[i], np.int64) for i, name in _INT_COLUMNS}
    chars = i64["chars"]
    stats = np.zeros((nk, len(STATS)))

    def add(name: str, values: npt.ArrayLike) -> None:
        stats[:, S[name]] = np.bincount(key, weights=np.asarray(values, np.float64), minlength=nk)

    add("n", np.ones(len(rows)))
    add("ok", ok)
    add("single", (i64["depth"] <= 1) & (i64["tool_turns"] == 0))
    add("tooled", i64["tool_turns"] > 0)
    add("cot", (i64["cot"] & 1) > 0)
    add("reasoning", (i64["cot"] & 2) > 0)
    log_chars = np.log1p(chars)
    add("log_chars", log_chars)
    add("log_chars2", log_chars**2)
    add("log_ctx", np.log1p(i64["context_chars"]))
    add("prompt_tokens", i64["prompt_tokens"])
    add("completion_tokens", i64["completion_tokens"])
    add("short", chars < MIN_SKETCH_CHARS)
    add("max_set", i64["max_tokens"] > 0)
    add("depth", i64["depth"])
    stats[:, S["days"]] = 1
    _times(stats, key, ts, nk)
    hours = np.zeros((nk, 24), np.int32)
    np.add.at(hours, (key, ((ts % DAY) // 3600).astype(np.int64)), 1)
    topic_hist = np.zeros((nk, nt), np.int32)
    np.add.at(topic_hist, (key, np.clip(i64["topic"], 0, nt - 1)), 1)
    names: dict[int, str] = {}
    pairs = _pairs(key, i64, chars, cols, names)
    return DaySummary(day, len(rows), list(index), stats, hours, topic_hist, pairs, names)


_INT_COLUMNS = [
    (i, name)
    for i, name in enumerate(c.strip() for c in _COLUMNS.split(","))
    if name
    in (
        "prompt_tokens",
        "completion_tokens",
        "ua",
        "system",
        "prompt_a",
        "prompt_b",
        "template_a",
        "template_b",
        "template",
        "chars",
        "context_chars",
        "max_tokens",
        "cot",
        "tools",
        "tool_turns",
        "depth",
        "topic",
        "shape",
    )
]
_COL = {name: i for i, name in enumerate(c.strip() for c in _COLUMNS.split(","))}


def _times(
    stats: npt.NDArray[np.float64], key: npt.NDArray[np.int64], ts: npt.NDArray[np.float64], nk: int
) -> None:
    order = np.lexsort((ts, key))
    k, t = key[order], ts[order]
    stats[:, S["first"]] = math.inf
    np.minimum.at(stats[:, S["first"]], k, t)
    stats[:, S["last"]] = -math.inf
    np.maximum.at(stats[:, S["last"]], k, t)
    same = k[1:] == k[:-1]
    gap = np.maximum(t[1:] - t[:-1], 1e-3)[same]
    gk = k[1:][same]
    log_gap = np.log(gap)
    stats[:, S["gaps"]] = np.bincount(gk, minlength=nk)
    stats[:, S["log_gap"]] = np.bincount(gk, weights=log_gap, minlength=nk)
    stats[:, S["log_gap2"]] = np.bincount(gk, weights=log_gap**2, minlength=nk)
    stats[:, S["fast_gaps"]] = np.bincount(gk, weights=(gap < 2.0), minlength=nk)


def _text_hashes(values: Sequence[Any], names: dict[int, str]) -> npt.NDArray[np.int64]:
    cache: dict[str, int] = {}
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        h = cache.get(v)
        if h is None:
            h = cache[v] = sketch.h63(v or "")
            if h:
                names[h] = v
        out[i] = h
    return out


def _pairs(
    key: npt.NDArray[np.int64],
    i64: dict[str, npt.NDArray[np.int64]],
    chars: npt.NDArray[np.int64],
    cols: list[tuple[Any, ...]],
    names: dict[int, str],
) -> dict[str, tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]]:
    long = chars >= MIN_SKETCH_CHARS
    t_bands = sketch.unpack(i64["template_a"], i64["template_b"])
    p_bands = sketch.unpack(i64["prompt_a"], i64["prompt_b"])
    sources: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {
        "template_band": (np.tile(key[long], 4), np.concatenate([b[long] for b in t_bands])),
        "prompt_band": (np.tile(key[long], 4), np.concatenate([b[long] for b in p_bands])),
        "template": (key[long], i64["template"][long]),
        "system": (key, i64["system"]),
        "ua": (key, i64["ua"]),
        "shape": (key, i64["shape"]),
        "max_tokens": (key, i64["max_tokens"]),
        "ip": (key, _text_hashes(cols[_COL["ip"]], names)),
        "prefix": (key, _text_hashes(cols[_COL["prefix"]], names)),
        "model": (key, _text_hashes(cols[_COL["model"]], {})),
    }
    out = {}
    for kind, (k, v) in sources.items():
        out[kind] = bottom_k(
            k, v, np.ones(len(k), np.int64), PAIRS_PER_DAY, keep_zero=kind in _ZERO_MEANS_NONE
        )
    return out


# Kinds whose 0 is a real value (no max_tokens, no system prompt, no User-Agent): kept, so
# that shares are of all requests.
_ZERO_MEANS_NONE = frozenset({"max_tokens", "system", "ua"})


def bottom_k(
    key: npt.NDArray[np.int64],
    value: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64] | npt.NDArray[np.int32],
    k: int,
    *,
    keep_zero: bool = False,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Distinct (key, value) with summed counts, at most the k smallest values per key.
    Values are below 2**63 and keys below 2**31, so (key, value) sorts as two columns."""
    if not keep_zero:
        nz = value != 0
        key, value, count = key[nz], value[nz], count[nz]
    if len(key) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32)
    order = np.lexsort((value, key))
    key, value, count = key[order], value[order], count[order]
    new = np.ones(len(key), bool)
    new[1:] = (key[1:] != key[:-1]) | (value[1:] != value[:-1])
    starts = np.flatnonzero(new)
    counts = np.add.reduceat(count.astype(np.int64), starts)
    key, value = key[starts], value[starts]
    # rank within each key's run of distinct values
    first_of_key = np.ones(len(key), bool)
    first_of_key[1:] = key[1:] != key[:-1]
    run_start = np.maximum.accumulate(np.where(first_of_key, np.arange(len(key)), 0))
    keep = (np.arange(len(key)) - run_start) < k
    return key[keep].astype(np.int32), value[keep], counts[keep].astype(np.int32)
