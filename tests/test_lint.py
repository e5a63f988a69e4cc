"""ruff and mypy are part of the test run, so a lint or type error fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_clean() -> None:
    # No cache: a cached verdict outlives a file moving between import sections.
    r = _run("ruff", "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_clean() -> None:
    r = _run("ruff", "format", "--no-cache", "--check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_clean() -> None:
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_clean_over_the_tests() -> None:
    r = _run("mypy", "--config-file", "tests/mypy.ini", "tests")
    assert r.returncode == 0, r.stdout + r.stderr
