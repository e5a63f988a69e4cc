"""bench/onthebench.py: the frontier search and the stream checks on known inputs, and a
seconds-long run of the whole harness against tokenport (slow: it starts the mocks and
tokenport and runs a dozen load generator processes).

The real run (`python bench/onthebench.py --quick`) is a benchmark, not a test; the smoke run
proves every phase works end to end and writes results of the right shape.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("bench.onthebench_phases"), importlib.import_module(
        "bench.loadgen"
    )


def test_frontier_finds_each_thresholds_highest_passing_rate(
    bench: tuple[ModuleType, ModuleType],
) -> None:
    ph, _ = bench
    measured: list[int] = []

    def measure(rps: int) -> dict[str, Any]:
        measured.append(rps)
        added = rps / 100.0  # added p99 grows 1 ms per 100 RPS
        errors = 0.01 if rps > 2000 else 0.0
        return {"rps": rps, "added_p99_ms": added, "error_rate": errors}

    prof = ph.Profile("t", 0, 0, 0, 100, 6400, 3, 0, 1, 0, (1,), 0)
    got = ph.frontier(measure, prof)["under_added_p99_ms"]

    # Ladder 100..3200 (3200 fails on its errors), then three bisection steps per threshold;
    # a rate passes when its added p99 is strictly under the threshold.
    assert got["1"] == {"rps": 88, "first_failing_rps": 100}  # 50, 75, 88 pass
    assert got["5"] == {"rps": 450, "first_failing_rps": 500}  # 600, 500 fail; 450 passes
    assert got["10"] == {"rps": 900, "first_failing_rps": 1000}
    assert got["50"] == {"rps": 2000, "first_failing_rps": 2200}  # errors above 2000 fail
    assert measured[:6] == [100, 200, 400, 800, 1600, 3200]
    assert len(measured) == len(set(measured)) == 6 + 3 * 4  # bounded, no rate measured twice


def test_frontier_stops_the_ladder_at_the_first_rate_over_the_widest_threshold(
    bench: tuple[ModuleType, ModuleType],
) -> None:
    ph, _ = bench
    prof = ph.Profile("t", 0, 0, 0, 100, 6400, 0, 0, 1, 0, (1,), 0)
    measured: list[int] = []

    def measure(rps: int) -> dict[str, Any]:
        measured.append(rps)
        return {"rps": rps, "added_p99_ms": 80.0 if rps >= 400 else 0.5, "error_rate": 0.0}

    got = ph.frontier(measure, prof)["under_added_p99_ms"]
    assert measured == [100, 200, 400]
    assert all(got[str(t)] == {"rps": 200, "first_failing_rps": 400} for t in (1, 5, 10, 50))


def test_stream_checks_count_frames_split_across_reads_and_time_gaps(
    bench: tuple[ModuleType, ModuleType],
) -> None:
    _, lg = bench
    checks = lg.StreamChecks(3, b'"tok', 200.0)
    conn = lg.StreamConn(cast(Any, None), checks)
    for part in (b'data: {"c":"to', b'k0 "}\n\ndata: {"c":"tok1 "}\n\ndata: {"c":"', b'tok2 "}'):
        conn.on_body(part)
    checks.record(conn.frames, 0.25)
    assert conn.frames == 3
    assert checks.summary()["short"] == 0 and checks.summary()["stalled"] == 1


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_smoke_run_measures_every_figure_for_tokenport(tmp_path: Path) -> None:
    out = tmp_path / "otb.json"
    cmd = [sys.executable, str(ROOT / "bench" / "onthebench.py"), "--smoke"]
    cmd += ["--systems", "tokenport", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert "| tokenport |" in out.with_suffix(".md").read_text()
    assert results["meta"]["busy_fraction_before"] is not None
    assert results["direct"]["c1"]["ok"] > 0 and results["direct"]["streams"]["levels"]

    tp = results["systems"]["tokenport"]
    assert tp["status"] == "ok", tp.get("reason")
    assert tp["c1"]["ok"] > 0 and tp["c1"]["errors"] == 0
    assert set(tp["c1_added_ms"]) == {"p50", "p99"}
    frontier = tp["frontier"]
    assert set(frontier["under_added_p99_ms"]) == {"1", "5", "10", "50"}
    assert frontier["points"] and frontier["points"][0]["direct_p99_ms"] is not None
    assert tp["chat"]["ok"] > 0 and tp["chat"]["cpu_ms_per_request"] > 0
    # tokenport translates the Anthropic body to the OpenAI-shaped mock, without errors.
    assert tp["translation_failure"] is None
    assert tp["translated"]["ok"] > 0 and tp["translated"]["errors"] == 0
    level = tp["streams"]["levels"][0]
    assert level["errors"] == 0
    assert level["streams"]["checked"] > 0 and level["streams"]["frames_min"] == 64
    assert tp["rss_idle_mb"] > 0 and tp["rss_load_mb"] > 0 and tp["rss_recovered_mb"] > 0
