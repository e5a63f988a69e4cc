"""Every `tokenport` command in the README runs, as written, after the README's plain
`pip install -e .`: the dev-only packages are blocked in each command's interpreter."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from _helpers import run_cli_without_dev_packages
from test_readme import COMMANDS, ROOT

pytestmark = pytest.mark.timeout(600)
# Only to keep the test short: these options shrink work, they change no behaviour.
FASTER = {"simulate": ["--requests", "400", "--users", "5"]}
SKIP = {"serve"}  # runs until stopped; tests/test_serve_lifecycle.py starts it for real


def test_every_readme_command_runs_without_dev_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENPORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOKENPORT_CONFIG", "")
    monkeypatch.setenv("TOKENPORT_ADMIN_KEY", "admin-secret-for-the-readme-test")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TOKENPORT_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "data").symlink_to(ROOT / "data")  # the paths are relative to a clone
    key_id = None
    ran = []
    for argv in COMMANDS:
        if argv[0] in SKIP:
            continue
        if key_id is not None:
            argv = [key_id if a.startswith("key_01H") else a for a in argv]
        out = run_cli_without_dev_packages([*argv, *FASTER.get(argv[0], [])], cwd=tmp_path)
        shown = f"tokenport {shlex.join(argv)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        assert "Traceback" not in out.stderr, shown
        # `simulate` exits 1 when a short run misses the scenario's tolerances
        assert out.returncode == 0 or (argv[0] == "simulate" and out.returncode == 1), shown
        if argv[:2] == ["keys", "create"]:
            key_id = re.search(r"key_[0-9A-Z]{26}", out.stdout).group(0)  # type: ignore[union-attr]
        ran.append(argv[0])
    assert {"keys", "usage", "costs", "economics", "router", "simulate", "rankings"} <= set(ran)
    assert (tmp_path / "router.npz").exists() and (tmp_path / "report.html").exists()
