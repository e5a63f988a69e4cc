"""The CI guard's harness runs end to end: the bare proxy and tokenport both answer, and the
figures come back as a ratio with the limit applied (the limit here is far above any real
figure, so only the harness is tested; the real limit is `.ci/run`'s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


def test_guard_measures_both_systems_and_applies_its_limit(tmp_path: Path) -> None:
    out = tmp_path / "guard.json"
    cmd = [sys.executable, str(ROOT / "bench" / "guard.py"), "--rounds", "1", "--seconds", "1"]
    ok = subprocess.run(
        [*cmd, "--max-ratio", "1000", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["bare_cpu_ms_per_request"] > 0 and result["tokenport_cpu_ms_per_request"] > 0
    one = result["rounds"][0]
    ratio = one["tokenport"]["cpu_ms_per_request"] / one["bare"]["cpu_ms_per_request"]
    assert result["cpu_ratio"] == pytest.approx(ratio, rel=1e-3)
    assert "hot-path guard: tokenport" in ok.stdout and ": ok" in ok.stdout
    # A limit below any real figure fails, printing both figures.
    bad = subprocess.run(
        [*cmd, "--max-ratio", "0.01"], cwd=ROOT, capture_output=True, text=True, timeout=170
    )
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "bare aiohttp proxy" in bad.stdout
