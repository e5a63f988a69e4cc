"""Every ```bash and ```python block in the README runs, as written, after the README's plain
`pip install -e .`, against a gateway serving the real local model.

- The dev-only packages are blocked in every interpreter the test starts (the gateway's,
  each `tokenport` command's, each Python block's), and what a Python block imports must
  be a base dependency in pyproject.toml.
- A block marked `<!-- readme-test: skip: why -->` (a paid key, an agent CLI, a command
  that runs until stopped) is not run; the test prints each with its reason.
- The test's gateway listens on a free port: `http://127.0.0.1:8000` in a block is replaced
  by its address. A `key_01H...` placeholder becomes the key the README's `keys create`
  made. Nothing else is changed, except `FASTER`'s options that shrink work.
- Bash blocks run one command at a time, `export`s carried on; Python blocks each in a fresh
  interpreter, so each must define its own client.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _helpers import DEV_ONLY, free_port, run_cli_without_dev_packages, wait_http
from test_readme import ROOT, Block, readme_blocks

pytestmark = [pytest.mark.timeout(900), pytest.mark.local_model]
# Only to keep the test short: these options shrink work, they change no behaviour.
FASTER = {"simulate": ["--requests", "400", "--users", "5"]}
README_URL = "http://127.0.0.1:8000"
BLOCKER = f"import sys\nfor name in {DEV_ONLY!r}:\n    sys.modules[name] = None\n"


def _commands(code: str) -> list[str]:
    """A bash block's commands: continuation lines and multi-line quotes joined."""
    out, pending = [], ""
    for line in code.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if words:
            out.append(pending)
        pending = ""
    assert not pending, f"unterminated command: {pending}"
    return out


def _base_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[\[<>=!; ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}


def _imports(code: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names)


class Runner:
    """Runs the README's blocks in order, with what earlier ones left (exports, a key id)."""

    def __init__(self, cwd: Path, base_url: str, setenv: Callable[[str, str], None]) -> None:
        self.cwd = cwd
        self.base_url = base_url
        self.setenv = setenv
        self.key_id: str | None = None
        self.ran: list[str] = []

    def python(self, block: Block) -> None:
        missing = _imports(block.code) - _base_dependencies()
        assert not missing, f"README line {block.line} imports {missing}, not base dependencies"
        code = BLOCKER + block.code.replace(README_URL, self.base_url)
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, f"README line {block.line}:\n{out.stdout}\n{out.stderr}"
        self.ran.append("python")

    def bash(self, block: Block) -> None:
        for command in _commands(block.code):
            words = shlex.split(command, comments=True)
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                self.setenv(name, value)
            elif words[0] == "tokenport":
                self.tokenport(words[1:])
            else:
                self.shell(command.replace(README_URL, self.base_url), block)

    def tokenport(self, argv: list[str]) -> None:
        if self.key_id is not None:
            argv = [self.key_id if a.startswith("key_01H") else a for a in argv]
        out = run_cli_without_dev_packages([*argv, *FASTER.get(argv[0], [])], cwd=self.cwd)
        shown = f"tokenport {shlex.join(argv)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        assert "Traceback" not in out.stderr, shown
        # `simulate` exits 1 when a short run misses the scenario's tolerances
        assert out.returncode == 0 or (argv[0] == "simulate" and out.returncode == 1), shown
        if argv[:2] == ["keys", "create"]:
            self.key_id = re.search(r"key_[0-9A-Z]{26}", out.stdout).group(0)  # type: ignore[union-attr]
        self.ran.append(argv[0])

    def shell(self, command: str, block: Block) -> None:
        out = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        shown = f"README line {block.line}: {command}\n{out.stdout}\n{out.stderr}"
        assert out.returncode == 0 and '"error"' not in out.stdout, shown  # curl exits 0 on a 4xx
        self.ran.append(command.split()[0])


@pytest.fixture
def readme_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`tokenport serve` with no configuration, the local model included, as after the
    README's install (dev packages blocked), on a free port."""
    monkeypatch.setenv("TOKENPORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOKENPORT_CONFIG", "")
    monkeypatch.setenv("TOKENPORT_ADMIN_KEY", "admin-secret-for-the-readme-test")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TOKENPORT_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "data").symlink_to(ROOT / "data")  # the paths are relative to a clone
    port = free_port()
    log = tmp_path / "serve.log"
    code = BLOCKER + "from tokenport.cli import main\nsys.argv = ['tokenport', *sys.argv[1:]]\n"
    code += "main()"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", 180, proc, log)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(errors="replace")


def test_every_readme_block_runs_without_dev_packages(
    tmp_path: Path,
    readme_gateway: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runner = Runner(tmp_path, readme_gateway, monkeypatch.setenv)
    skipped = []
    # The README's own blocks: the manual's pages hold commands that need paid keys, agents
    # or long jobs; tests/test_readme.py checks that theirs exist as written.
    for block in readme_blocks((ROOT / "README.md").read_text(encoding="utf-8")):
        if block.skip is not None:
            skipped.append(f"README line {block.line} ({block.lang}): {block.skip}")
        elif block.lang == "python":
            runner.python(block)
        else:
            runner.bash(block)
    with capsys.disabled():
        print("\nnot run:\n  " + "\n  ".join(skipped))
    # One example per door: chat, messages, responses, completions.
    assert runner.ran.count("python") >= 4
