"""Per-key behaviour over the window, as arrays (one row per key): what the detectors read.

Every feature is a share, a spread or a rate that means the same on any traffic: nothing
depends on a particular client, app or prompt wording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tokenport.abusescan.days import STATS
from tokenport.abusescan.window import Window

F = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    created_at: float | None
    created_via: str | None
    created_ip: str | None


@dataclass(slots=True)
class Features:
    n: F  # requests
    days: F  # days with traffic
    span_days: F  # first to last request
    single: F  # share of single-turn requests (one user turn, no tools)
    tooled: F  # share inside agent loops (tool calls or results in the conversation)
    cot: F  # share whose text asks for a chain of thought
    reasoning: F  # share that turn the provider's reasoning on
    short: F  # share of very short prompts
    len_spread: F  # std of ln(prompt length)
    ctx: F  # mean ln(context length)
    out_in: F  # completion tokens per prompt token
    max_mode: F  # the most used max_tokens value (0: unset)
    max_share: F  # its share of requests
    gap_spread: F  # std of ln(gap between consecutive requests)
    gap_count: F
    fast_share: F  # share of gaps under 2 s
    hour_evenness: F  # normalised entropy of the hour-of-day histogram (1: round the clock)
    topic_count: F  # distinct topics recognised
    topic_evenness: F  # normalised entropy over those topics
    prompt_distinct: F  # distinct prompt sketch bands per band slot (1: every prompt new)
    template_distinct: F  # the same for templates
    template_exact_distinct: F  # distinct exact templates per sketched prompt
    ips: F  # distinct addresses
    prefixes: F  # distinct /24 or /48 prefixes
    ip_per_request: F
    uas: F
    created_at: F  # nan when unknown
    age_at_first: F  # days from creation to first request in the window (nan: unknown)
    rate_per_active_day: F


def _safe(a: F, b: F) -> F:
    return np.where(b > 0, a / np.maximum(b, 1e-12), 0.0)


def _entropy(hist: npt.NDArray[np.int64], bins: int) -> F:
    total = hist.sum(axis=1, keepdims=True).astype(np.float64)
    p = np.where(total > 0, hist / np.maximum(total, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return np.asarray(h / np.log(bins), np.float64)


def _mode(w: Window, kind: str) -> tuple[F, F]:
    """Each key's most frequent value of `kind`, and that value's count."""
    key, value, count = w.pairs[kind]
    n = w.size
    best_value = np.zeros(n)
    best_count = np.zeros(n)
    if len(key):
        order = np.lexsort((count, key))  # within a key, the largest count last
        k, v, c = key[order], value[order], count[order]
        last = np.ones(len(k), bool)
        last[:-1] = k[:-1] != k[1:]
        best_value[k[last]] = v[last]
        best_count[k[last]] = c[last]
    return best_value, best_count


def compute(w: Window, info: dict[str, KeyInfo]) -> Features:
    st = {name: w.stats[:, i] for i, name in enumerate(STATS)}
    n = st["n"]
    mean_len = _safe(st["log_chars"], n)
    var_len = np.maximum(_safe(st["log_chars2"], n) - mean_len**2, 0.0)
    g = st["gaps"]
    mean_gap = _safe(st["log_gap"], g)
    var_gap = np.maximum(_safe(st["log_gap2"], g) - mean_gap**2, 0.0)
    long = np.maximum(n - st["short"], 0.0)
    mode_value, mode_count = _mode(w, "max_tokens")
    topic_hist = w.topics[:, 1:]
    topic_count = (topic_hist > 0).sum(axis=1).astype(np.float64)
    created = np.array(
        [
            info[k].created_at if k in info and info[k].created_at is not None else np.nan
            for k in w.keys
        ],
        np.float64,
    )
    span = np.maximum(st["last"] - st["first"], 0.0) / 86400.0
    ips = w.distinct("ip")
    return Features(
        n=n,
        days=st["days"],
        span_days=span,
        single=_safe(st["single"], n),
        tooled=_safe(st["tooled"], n),
        cot=_safe(st["cot"], n),
        reasoning=_safe(st["reasoning"], n),
        short=_safe(st["short"], n),
        len_spread=np.sqrt(var_len),
        ctx=_safe(st["log_ctx"], n),
        out_in=_safe(st["completion_tokens"], st["prompt_tokens"]),
        max_mode=mode_value,
        max_share=_safe(mode_count, n),
        gap_spread=np.sqrt(var_gap),
        gap_count=g,
        fast_share=_safe(st["fast_gaps"], g),
        hour_evenness=_entropy(w.hours, 24),
        topic_count=topic_count,
        topic_evenness=np.where(
            topic_count > 1,
            _entropy(topic_hist, topic_hist.shape[1])
            * np.log(topic_hist.shape[1])
            / np.log(np.maximum(topic_count, 2)),
            0.0,
        ),
        prompt_distinct=_safe(w.distinct("prompt_band"), 4 * long),
        template_distinct=_safe(w.distinct("template_band"), 4 * long),
        template_exact_distinct=_safe(w.distinct("template"), long),
        ips=ips,
        prefixes=w.distinct("prefix"),
        ip_per_request=_safe(ips, n),
        uas=w.distinct("ua"),
        created_at=created,
        age_at_first=(st["first"] - created) / 86400.0,
        rate_per_active_day=_safe(n, st["days"]),
    )
