"""Every backticked Python file name in the docs, the README and the code's comments and
docstrings names a file that exists, so a move or a rename cannot leave a stale pointer.

A path with a slash is looked for from the repository root, from `src/tokenport/`, from
`tests/` and from the naming file's own folder and the folders above it; a bare name in the
naming file's folder, or, from Markdown, anywhere in the source or the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tokenport"
# A backticked token that ends in .py, optionally followed by `:line` or `'s`; no spaces,
# no globs or placeholders (`test_*.py`, `<topic>.py` are patterns, not files).
_REF = re.compile(r"`([A-Za-z0-9_./-]+\.py)(?::\d+(?:-\d+)?)?`")


def _texts() -> list[Path]:
    files = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    for top in ("src", "tests", "bench"):
        files += sorted(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)
    files += [ROOT / "bench" / "ROUTER.md"]  # bench/RESULTS.md is a log: it names old files
    return [f for f in files if f.exists()]


def _by_name() -> set[str]:
    names: set[str] = set()
    for top in ("src", "tests", "bench", ".ci"):
        names |= {p.name for p in (ROOT / top).rglob("*.py")}
    return names


def _exists(ref: str, where: Path, names: set[str]) -> bool:
    if "/" not in ref:
        here = any((folder / ref).exists() for folder in where.parents)
        return here or (where.suffix == ".md" and ref in names)
    bases = [ROOT, SRC, ROOT / "tests", *where.parents]
    return any((base / ref).exists() for base in bases)


def stale_references(files: list[Path]) -> list[str]:
    names = _by_name()
    stale: list[str] = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for ref in _REF.findall(line):
                if not _exists(ref.removeprefix("./"), path, names):
                    stale.append(f"{path.name}:{n}: `{ref}`")
    return stale


def test_every_backticked_python_path_exists() -> None:
    stale = stale_references(_texts())
    assert not stale, "references to files that do not exist:\n" + "\n".join(stale)


def test_a_stale_reference_is_caught(tmp_path: Path) -> None:
    page = ROOT / "docs" / "architecture.md"
    fake = tmp_path / "page.md"
    missing = "api/" + "nowhere.py"
    fake.write_text(page.read_text(encoding="utf-8") + f"\nSee `{missing}`.\n")
    assert stale_references([page]) == []
    assert [s.rsplit(": ", 1)[1] for s in stale_references([fake])] == [f"`{missing}`"]
