"""The measurement phases, each one bounded run of `loadgen.py` in its own process.

sustained   closed loop in segments: saturation RPS, RSS after each segment (leak check),
            and the ledger backlog after each segment
rates       open loop at fixed rates (100, 500, 1000 RPS): latency p50/p99
stream      open loop, streamed: time to first token
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import pinned, tree_cpu, tree_rss

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
FAST_MODEL = "mock0/mock-model"
SLOW_MODEL = "mock50/mock-model"
# Extra request headers for a model: none, except for a system that routes by header.
Headers = Callable[[str], list[str]]


def no_headers(model: str) -> list[str]:
    return []


def _header_args(headers: Headers, model: str) -> list[str]:
    return [a for h in headers(model) for a in ("--header", h)]


@dataclass(frozen=True)
class Profile:
    """How long each phase runs. `quick` fits the whole suite in about 3 minutes."""

    name: str
    warmup_s: float
    segment_s: float
    min_segments: int
    leak_requests: int  # sustained load runs until this many requests (or max_sustained_s)
    leak_baseline: int  # first RSS checkpoint for the leak check
    max_sustained_s: float
    rate_s: float
    rates: tuple[int, ...]
    slow_rate: int  # fixed rate against the 50 ms mock
    stream_rate: int
    stream_s: float
    connections: int


QUICK = Profile("quick", 1.0, 1.5, 3, 0, 0, 4.5, 1.5, (100, 500, 1000), 200, 30, 2.0, 50)
FULL = Profile(
    "full", 5.0, 10.0, 3, 1_000_000, 100_000, 3600.0, 20.0, (100, 500, 1000), 500, 50, 20.0, 50
)


def loadgen(cpus: str | None, *args: str, timeout: float = 900) -> dict[str, Any]:
    cmd = pinned([sys.executable, str(LOADGEN), *args], cpus)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def closed(
    url: str,
    cpus: str | None,
    seconds: float,
    connections: int,
    model: str,
    headers: Headers = no_headers,
) -> dict[str, Any]:
    return loadgen(
        cpus,
        *_header_args(headers, model),
        "closed",
        "--url",
        url,
        "--model",
        model,
        "--duration",
        str(seconds),
        "--connections",
        str(connections),
    )


def rate(
    url: str,
    cpus: str | None,
    rps: float,
    seconds: float,
    model: str,
    stream: bool = False,
    headers: Headers = no_headers,
) -> dict[str, Any]:
    args = ["rate", "--url", url, "--model", model, "--rate", str(rps), "--duration", str(seconds)]
    args += ["--grace", "5", *_header_args(headers, model)]
    return loadgen(cpus, *args, *(["--stream"] if stream else []))


def sustained(
    url: str,
    cpus: str | None,
    profile: Profile,
    pid: int | None,
    backlog: Callable[[], int | None],
    tick: Callable[[int], None],
    headers: Headers = no_headers,
) -> dict[str, Any]:
    """Closed-loop segments until `leak_requests` (and at least `min_segments`), bounded by
    `max_sustained_s`. Records RPS, RSS and ledger backlog after every segment."""
    segments: list[dict[str, Any]] = []
    total = errors = 0
    t0 = time.monotonic()
    while True:
        cpu0 = tree_cpu(pid) if pid else 0.0
        r = closed(url, cpus, profile.segment_s, profile.connections, FAST_MODEL, headers)
        cpu = tree_cpu(pid) - cpu0 if pid else None
        total += r["requests"]
        errors += r["errors"]
        seg = {
            "requests_total": total,
            "rps": r["rps"],
            "errors": r["errors"],
            "latency_ms": r["latency_ms"],
            "cpu_ms_per_request": round(cpu * 1000 / r["ok"], 4) if cpu and r["ok"] else None,
            "rss_mb": round(tree_rss(pid) / 2**20, 1) if pid else None,
            "ledger_backlog": backlog(),
        }
        segments.append(seg)
        tick(total)
        # The time bound ends a long run, never one short of `min_segments` (the leak check
        # compares two): on a busy machine the first segment alone can take the whole bound.
        if len(segments) >= profile.min_segments and (
            total >= profile.leak_requests or time.monotonic() - t0 >= profile.max_sustained_s
        ):
            break
    rps = sorted(s["rps"] for s in segments)
    cpu_per = sorted(s["cpu_ms_per_request"] or 0.0 for s in segments)
    # Drained after the load stops: the backlog a saturated run leaves behind.
    time.sleep(0.5)
    return {
        "segments": segments,
        "requests": total,
        "errors": errors,
        "saturation_rps": rps[len(rps) // 2],
        "cpu_ms_per_request": cpu_per[len(cpu_per) // 2] or None,
        "elapsed_s": round(time.monotonic() - t0, 1),
        "backlog_after_0_5s": backlog(),
        "reached_leak_requests": total >= profile.leak_requests,
    }


def leak_check(segments: list[dict[str, Any]], baseline: int) -> dict[str, Any]:
    """RSS at the first checkpoint at or past `baseline` requests vs. at the end."""
    with_rss = [s for s in segments if s["rss_mb"] is not None]
    if len(with_rss) < 2:
        return {"growth_pct": None}
    first = next((s for s in with_rss if s["requests_total"] >= baseline), with_rss[0])
    last = with_rss[-1]
    growth = (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"] * 100 if first["rss_mb"] else 0
    return {
        "from_requests": first["requests_total"],
        "from_rss_mb": first["rss_mb"],
        "to_requests": last["requests_total"],
        "to_rss_mb": last["rss_mb"],
        "growth_pct": round(growth, 2),
    }


def fixed_rates(
    url: Callable[[str], str],
    cpus: str | None,
    profile: Profile,
    saturation_rps: float | None,
    tick: Callable[[], None],
    headers: Headers = no_headers,
) -> dict[str, Any]:
    """Latency at each fixed rate; a rate above 90% of saturation is skipped and said so."""
    out: dict[str, Any] = {}
    plan = [(str(r), r, FAST_MODEL) for r in profile.rates]
    plan.append((f"{profile.slow_rate}@50ms", profile.slow_rate, SLOW_MODEL))
    for key, rps, model in plan:
        if saturation_rps is not None and rps > 0.9 * saturation_rps:
            out[key] = {"skipped": f"above 90% of saturation ({saturation_rps:.0f} RPS)"}
        else:
            out[key] = rate(url(model), cpus, rps, profile.rate_s, model, headers=headers)
        tick()
    return out


def streaming(
    url: Callable[[str], str],
    cpus: str | None,
    profile: Profile,
    saturation_rps: float | None,
    headers: Headers = no_headers,
) -> dict[str, Any]:
    """TTFT at `stream_rate`, or at a quarter of the system's saturation if that is lower: a
    stream costs a system about one request per few chunks, and TTFT overhead is measured
    unloaded, not in a queue."""
    rps = float(profile.stream_rate)
    if saturation_rps is not None:
        rps = max(1.0, min(rps, round(saturation_rps / 4)))
    return rate(
        url(FAST_MODEL), cpus, rps, profile.stream_s, FAST_MODEL, stream=True, headers=headers
    )
