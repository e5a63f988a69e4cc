"""A seconds-long run of the benchmark harness: mock + tokenport + a few hundred requests.

The real benchmark (`python bench/run.py --quick`, or the full run) stays out of the unit
tests; this only proves the harness works end to end and writes results of the right shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_smoke_run_writes_results_without_errors(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--smoke",
        "--systems",
        "tokenport-sqlite",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "results.png").stat().st_size > 0

    assert {"meta", "baseline", "systems"} <= results.keys()
    assert results["baseline"]["mock_ceiling_rps"] > 0
    [entry] = results["systems"]
    assert entry["system"] == "tokenport-sqlite" and entry["workers"] == 1
    assert entry["status"] == "ok", entry.get("reason")
    assert entry["errors"] == 0 and entry["error_rate"] == 0
    assert entry["requests"] >= 200
    assert entry["saturation_rps"] > 0
    assert entry["peak_rss_mb"] > 0
    assert set(entry["added_latency_ms"]) == {"100", "50@50ms"}
    assert entry["added_latency_ms"]["100"]["p50"] is not None
    assert entry["ttft_overhead_ms"]["p50"] is not None
    assert entry["rss_leak"]["growth_pct"] is not None
    assert entry["ledger"]["backlog_samples"], "tokenport reports its ledger backlog"
    assert set(entry["targets"]) >= {"added_p50_at_500", "ttft_overhead_p50", "rss_growth"}
