"""The README's and the manual's commands exist as written, and the files they name are in
the repository: a new user copies them after a plain `pip install -e .`. The README is the
front page (under 150 lines, its links resolve); the manual (docs/, in mkdocs.yml's nav
order) holds the rest."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # pyyaml ships no type information
from typer.testing import CliRunner

from tokenport.cli import _register_areas, app

ROOT = Path(__file__).resolve().parents[1]


def _nav_pages(nav: list[object]) -> list[str]:
    pages: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [str(value)]
    return pages


def _manual() -> str:
    """The README, then every page of the manual in its nav order (the order a reader, and
    test_readme_commands.py, follows: keys are created before they are topped up)."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = [ROOT / "docs" / page for page in _nav_pages(nav)]
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *pages])


README = _manual()

# A ```bash or ```python block that must not run in tests (it needs a paid key, an agent
# CLI, or runs until stopped) has this HTML comment, invisible when rendered, on the line
# before its fence: <!-- readme-test: skip: why -->
_BLOCK = re.compile(
    r"(?:<!--[ \t]*readme-test:[ \t]*skip:[ \t]*(?P<why>[^\n]*?)[ \t]*-->\n)?"
    r"```(?P<lang>bash|python)\n(?P<code>.*?)```",
    re.S,
)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    skip: str | None  # the reason it is not run, or None
    line: int


def readme_blocks(text: str = README) -> list[Block]:
    return [
        Block(m["lang"], m["code"], m["why"], text.count("\n", 0, m.start("code")) + 1)
        for m in _BLOCK.finditer(text)
    ]


def _commands() -> list[list[str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("tokenport "):
                out.append(shlex.split(line)[1:])
    return out


COMMANDS = _commands()


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_areas()
    return CliRunner()


def test_the_readme_has_commands() -> None:
    assert len(COMMANDS) >= 10


def test_skip_markers_give_a_reason_and_sit_on_a_block() -> None:
    blocks = readme_blocks()
    marked = re.findall(r"<!--\s*readme-test:(.*?)-->", README, re.S)
    assert len(marked) == sum(b.skip is not None for b in blocks)  # none stray
    assert all(b.skip for b in blocks if b.skip is not None)
    assert any(b.lang == "python" and b.skip is None for b in blocks)


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_each_readme_command_and_its_options_exist(runner: CliRunner, argv: list[str]) -> None:
    words = [a for a in argv if not a.startswith("-")]
    for n in range(len(words), 0, -1):  # the longest prefix that is a command
        result = runner.invoke(app, [*words[:n], "--help"], env={"COLUMNS": "200"})
        if result.exit_code == 0:
            break
    assert result.exit_code == 0, f"no such command: tokenport {' '.join(words)}"
    for option in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert option in result.output, f"tokenport {' '.join(words[:n])} has no {option}"


@pytest.mark.parametrize("path", sorted(set(re.findall(r"\b(data/routing/[\w.]+)", README))))
def test_files_the_readme_names_are_shipped(path: str) -> None:
    assert (ROOT / path).is_file(), path


def test_the_readme_is_a_front_page_whose_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 150
    assert "pip install -e . && tokenport serve" in readme
    assert 'pip install -e ".[dev]" && python -m pytest' in readme
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the manual"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
