"""Per-account detectors: each turns `Features` into a strength in [0, 1] per key, with a
reason a person can read.

They describe *harvesting*: many single-turn prompts, made from templates, sweeping
subjects, asking for long answers and for the reasoning behind them, on a young key, by a
machine. None is damning alone (an evaluation job is templated and single-turn; a coding
agent is machine-paced and pins max_tokens), so `harvest_score` caps what one account's own
behaviour can reach, and the cross-account evidence (`network.py`) decides most flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tokenport.abusescan.features import Features

F = npt.NDArray[np.float64]


def ramp(x: F, low: float, high: float) -> F:
    """0 at or below `low`, 1 at or above `high`, linear between (high < low reverses)."""
    return np.asarray(np.clip((x - low) / (high - low), 0.0, 1.0), np.float64)


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    weight: float
    strength: Callable[[Features], F]
    reason: Callable[[Features, int], str]


def _enough(f: Features, n: float = 8) -> F:
    """Confidence from the number of requests: little is said by two requests."""
    return ramp(f.n, 2, n)


def _young(f: Features) -> F:
    age = np.nan_to_num(f.age_at_first, nan=365.0)
    young = ramp(-age, -7.0, -0.5)  # used within days of creation
    busy = ramp(f.rate_per_active_day, 15, 80)
    return young * busy * _enough(f, 20)


def _template(f: Features) -> F:
    # Templated yet every prompt new: a frame filled with different items.
    templated = ramp(-f.template_distinct, -0.6, -0.25)
    distinct_prompts = ramp(f.prompt_distinct, 0.3, 0.7)
    return templated * distinct_prompts * (1 - f.short) * _enough(f, 10)


def _length(f: Features) -> F:
    # only among distinct prompts: an agent loop re-sends one prompt, of one length
    distinct = ramp(f.prompt_distinct, 0.3, 0.6)
    return ramp(-f.len_spread, -0.45, -0.2) * distinct * (1 - f.short) * _enough(f, 10)


def _sweep(f: Features) -> F:
    return ramp(f.topic_count, 4, 9) * ramp(f.topic_evenness, 0.6, 0.85) * _enough(f, 12)


def _pinned(f: Features) -> F:
    return ramp(f.max_share, 0.8, 0.98) * ramp(f.max_mode, 1500, 4000) * _enough(f)


def _single(f: Features) -> F:
    return ramp(f.single, 0.8, 0.97) * _enough(f)


def _regular(f: Features) -> F:
    return ramp(-f.gap_spread, -0.7, -0.35) * ramp(f.gap_count, 5, 20)


def _cot(f: Features) -> F:
    return ramp(f.cot, 0.25, 0.7) * _enough(f, 6)


def _rotation(f: Features) -> F:
    # a new address for most requests: rotating proxies
    return ramp(f.ip_per_request, 0.3, 0.7) * ramp(f.ips, 5, 15)


def _round_the_clock(f: Features) -> F:
    return ramp(f.hour_evenness, 0.85, 0.95) * ramp(f.n, 40, 100)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "young_key_volume",
        0.35,
        _young,
        lambda f, i: (
            f"young key: first used {max(0.0, f.age_at_first[i]):.1f} days after "
            f"creation, {f.rate_per_active_day[i]:.0f} requests per active day"
        ),
    ),
    Detector(
        "template",
        0.45,
        _template,
        lambda f, i: (
            f"templated prompts: {_pct(1 - f.template_distinct[i])} of template "
            f"sketches repeat while {_pct(f.prompt_distinct[i])} of prompts are new"
        ),
    ),
    Detector(
        "length_spread",
        0.2,
        _length,
        lambda f, i: f"prompt lengths barely vary (spread {f.len_spread[i]:.2f} in log chars)",
    ),
    Detector(
        "topic_sweep",
        0.5,
        _sweep,
        lambda f, i: (
            f"sweeps {f.topic_count[i]:.0f} subjects evenly (evenness {f.topic_evenness[i]:.2f})"
        ),
    ),
    Detector(
        "max_tokens_pinned",
        0.3,
        _pinned,
        lambda f, i: (
            f"max_tokens pinned at {f.max_mode[i]:.0f} on {_pct(f.max_share[i])} of requests"
        ),
    ),
    Detector(
        "single_turn",
        0.3,
        _single,
        lambda f, i: f"{_pct(f.single[i])} single-turn, no tools",
    ),
    Detector(
        "regular_timing",
        0.25,
        _regular,
        lambda f, i: f"machine-regular timing (spread of gaps {f.gap_spread[i]:.2f} in log s)",
    ),
    Detector(
        "chain_of_thought",
        0.5,
        _cot,
        lambda f, i: f"{_pct(f.cot[i])} of prompts demand step-by-step reasoning",
    ),
    Detector(
        "address_rotation",
        0.4,
        _rotation,
        lambda f, i: (
            f"{f.ips[i]:.0f} addresses over {f.prefixes[i]:.0f} prefixes for {f.n[i]:.0f} requests"
        ),
    ),
    Detector(
        "round_the_clock",
        0.15,
        _round_the_clock,
        lambda f, i: f"active round the clock (hour evenness {f.hour_evenness[i]:.2f})",
    ),
)

# What one account's own behaviour can score at most: below the flag threshold, so a lone
# batch job or a lone heavy user is never flagged on its own behaviour alone, unless it
# shows nearly everything at once.
OWN_CAP = 0.45


def strengths(f: Features) -> dict[str, F]:
    return {d.name: d.strength(f) for d in DETECTORS}


def short_answers(f: Features) -> F:
    """How firmly a key caps its answers short (max_tokens <= 512 on most requests): a
    classifier or an extraction job; a harvester wants the whole answer."""
    capped = (f.max_mode > 0) & (f.max_mode <= 512)
    return np.where(capped, ramp(f.max_share, 0.6, 0.9), 0.0)


def harvest_score(s: dict[str, F], f: Features) -> F:
    """Noisy-OR of the weighted detectors, scaled so that everything at once reaches
    `OWN_CAP`. The share of requests inside agent loops (tool results coming back) takes it
    down in proportion: harvesting asks single questions; agents run tools. So do answers
    capped short."""
    miss = np.ones_like(next(iter(s.values())))
    for d in DETECTORS:
        miss *= 1 - d.weight * s[d.name]
    score = OWN_CAP * (1 - miss) / (1 - _ALL_MISS)
    return np.asarray(score * (1 - f.tooled) * (1 - 0.6 * short_answers(f)), np.float64)


_ALL_MISS = float(np.prod([1 - d.weight for d in DETECTORS]))


def reasons(f: Features, s: dict[str, F], i: int, at_least: float = 0.5) -> list[str]:
    ranked = sorted(DETECTORS, key=lambda d: -d.weight * s[d.name][i])
    return [d.reason(f, i) for d in ranked if s[d.name][i] >= at_least]
