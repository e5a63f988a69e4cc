"""The measurements of bench/onthebench.py, each a bounded run of bench/loadgen.py.

concurrency_1   closed loop, one connection, the 0 ms upstream: latency p50/p99
frontier        open loop at rising rates against the 20 ms upstream, then a short bisection
                per threshold: the highest rate whose added p99 stays under 1/5/10/50 ms
saturation      closed loop, many connections: RPS and CPU per request (chat, or an
                Anthropic Messages body for the translated figure)
streams         N connections each streaming 64 frames 20 ms apart, N from a small ladder:
                every frame arrives, no gap over 200 ms, < 0.1% errors
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.phases import Headers, loadgen, no_headers
from bench.procs import RssSampler, tree_cpu

FAST_MODEL = "mock0/mock-model"  # 0 ms upstream; streams 64 frames 20 ms apart
SLOW_MODEL = "mock20/mock-model"  # 20 ms upstream
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
PROMPT = "Say hello to the benchmark."
MESSAGES_BODY = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
THRESHOLDS_MS = (1, 5, 10, 50)
MAX_ERROR_RATE = 0.001  # < 0.1% errors, as On the Bench states it
STREAM_FRAMES = 64
FRAME_INTERVAL_MS = 20.0
MAX_GAP_MS = 200.0


@dataclass(frozen=True)
class Profile:
    """How long each measurement runs; `quick` keeps tokenport + bare to ~2-3 minutes."""

    name: str
    warmup_s: float  # discarded closed loop after start (chat and messages)
    c1_s: float  # concurrency-1 closed loop
    rate_s: float  # each open-loop rate of the frontier
    first_rate: int  # the frontier ladder starts here and doubles
    max_rate: int  # ... up to here
    refine: int  # bisection steps per threshold after the ladder
    sat_s: float  # each saturation closed loop
    connections: int  # in flight for saturation
    stream_s: float  # each level of the stream ladder (a stream lasts ~1.3 s)
    ladder: tuple[int, ...]  # concurrent streams tried, smallest first
    settle_s: float  # idle wait before "recovered" RSS


QUICK = Profile("quick", 1.0, 3.0, 2.0, 100, 3200, 1, 3.0, 50, 3.0, (64, 128, 256, 512), 5.0)
FULL = Profile("full", 3.0, 10.0, 5.0, 50, 6400, 2, 10.0, 50, 8.0, (64, 128, 256, 512, 1024), 30.0)
SMOKE = Profile("smoke", 0.3, 0.5, 0.5, 50, 50, 0, 0.5, 8, 1.5, (8,), 0.5)


@dataclass
class Target:
    """One system under test (or the mocks themselves, `direct`), as the phases reach it."""

    name: str
    url: Callable[[str, str], str]  # (model, path) -> URL
    pid: int | None = None  # the process tree whose CPU and RSS are measured
    headers: Headers = no_headers
    stream_failure: str | None = None  # why streams cannot be measured, when they cannot
    translates: str | None = None  # None if /v1/messages -> chat upstream works; else why not


def _run(t: Target, cpus: str | None, model: str, path: str, *args: str) -> dict[str, Any]:
    hdr = [a for h in t.headers(model) for a in ("--header", h)]
    return loadgen(cpus, *hdr, *args, "--url", t.url(model, path), "--model", model)


def concurrency_1(t: Target, cpus: str | None, prof: Profile) -> dict[str, Any]:
    args = ("closed", "--connections", "1", "--duration", str(prof.c1_s), "--grace", "5")
    return _run(t, cpus, FAST_MODEL, CHAT, *args)


def open_rate(t: Target, cpus: str | None, prof: Profile, rps: int) -> dict[str, Any]:
    args = ("rate", "--rate", str(rps), "--duration", str(prof.rate_s), "--grace", "5")
    return _run(t, cpus, SLOW_MODEL, CHAT, *args)


def saturation(
    t: Target, cpus: str | None, prof: Profile, path: str = CHAT, body: str | None = None
) -> dict[str, Any]:
    """Closed loop with `connections` in flight; CPU per answer of the target's tree."""
    args = ["closed", "--connections", str(prof.connections), "--duration", str(prof.sat_s)]
    if body is not None:
        args += ["--body", body, "--header", "anthropic-version: 2023-06-01"]
    cpu0 = tree_cpu(t.pid) if t.pid else 0.0
    out = _run(t, cpus, FAST_MODEL, path, *args)
    if t.pid and out["ok"]:
        out["cpu_ms_per_request"] = round((tree_cpu(t.pid) - cpu0) * 1000 / out["ok"], 4)
    return out


def messages_body() -> str:
    return json.dumps(MESSAGES_BODY)


def stream_level(t: Target, cpus: str | None, prof: Profile, n: int) -> dict[str, Any]:
    args = ["closed", "--stream", "--connections", str(n), "--duration", str(prof.stream_s)]
    args += ["--frames", str(STREAM_FRAMES), "--max-gap-ms", str(MAX_GAP_MS), "--grace", "10"]
    out = _run(t, cpus, FAST_MODEL, CHAT, *args)
    s = out["streams"]
    bad = out["errors"] + s["short"]
    out["passed"] = (
        s["short"] == 0
        and s["stalled"] == 0
        and out["requests"] > 0
        and bad / out["requests"] < MAX_ERROR_RATE
    )
    return out


def streams(t: Target, cpus: str | None, prof: Profile) -> dict[str, Any]:
    """The ladder, smallest first, stopping at the first level that fails; RSS peak too."""
    levels: list[dict[str, Any]] = []
    best = 0
    rss = RssSampler(t.pid) if t.pid else None
    with rss if rss is not None else contextlib.nullcontext():
        for n in prof.ladder:
            got = stream_level(t, cpus, prof, n)
            levels.append({"concurrent": n, **got})
            if not got["passed"]:
                break
            best = n
    peak = round(rss.peak / 2**20, 1) if rss is not None else None
    return {"sustained": best, "ladder": list(prof.ladder), "levels": levels, "peak_rss_mb": peak}


# The frontier --------------------------------------------------------------------------


def _passes(point: dict[str, Any], limit_ms: float) -> bool:
    added = point.get("added_p99_ms")
    return added is not None and added < limit_ms and point["error_rate"] < MAX_ERROR_RATE


def _bracket(points: dict[int, dict[str, Any]], limit: float) -> tuple[int, int | None]:
    """(highest rate passing with every lower measured rate passing too, first failing)."""
    lo = 0
    for rate in sorted(points):
        if not _passes(points[rate], limit):
            return lo, rate
        lo = rate
    return lo, None


def frontier(measure: Callable[[int], dict[str, Any]], prof: Profile) -> dict[str, Any]:
    """Doubling ladder from `first_rate` until added p99 passes 50 ms (or `max_rate`), then
    `refine` bisection steps inside each threshold's bracket. Bounded: at most
    log2(max/first) + 1 + refine * len(THRESHOLDS_MS) measurements."""
    points: dict[int, dict[str, Any]] = {}

    def at(rate: int) -> dict[str, Any]:
        if rate not in points:
            points[rate] = measure(rate)
        return points[rate]

    rate = prof.first_rate
    while _passes(at(rate), max(THRESHOLDS_MS)) and rate * 2 <= prof.max_rate:
        rate *= 2
    result: dict[str, Any] = {}
    for limit in THRESHOLDS_MS:
        for _ in range(prof.refine):
            lo, hi = _bracket(points, limit)
            if hi is None or hi - lo < max(10, hi // 10):
                break
            at(round((lo + hi) / 2))
        lo, hi = _bracket(points, limit)
        result[str(limit)] = {"rps": lo, "first_failing_rps": hi}
    return {"under_added_p99_ms": result, "points": [points[r] for r in sorted(points)]}


def point(system: dict[str, Any], direct: dict[str, Any], rps: int) -> dict[str, Any]:
    """One frontier point: the system's open-loop result with the direct p99 subtracted."""
    sp99, dp99 = system["latency_ms"]["p99"], direct["latency_ms"]["p99"]
    sp50, dp50 = system["latency_ms"]["p50"], direct["latency_ms"]["p50"]
    return {
        "rps": rps,
        "achieved_rps": system["rps"],
        "p50_ms": sp50,
        "p99_ms": sp99,
        "direct_p99_ms": dp99,
        "added_p50_ms": round(sp50 - dp50, 3) if sp50 is not None and dp50 is not None else None,
        "added_p99_ms": round(sp99 - dp99, 3) if sp99 is not None and dp99 is not None else None,
        "errors": system["errors"],
        "error_rate": system["error_rate"],
    }
