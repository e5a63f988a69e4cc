"""The house's floors: every import in `src/tokenport` points down the layer order below,
so the import graph has no circle and no arrow that runs back up.

An area's `cli.py` is part of the command-line shell (the top floor): it registers its
commands on the `tokenport` app and may use any layer, as `tokenport/cli.py` does. Lazy
imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenport"

# Top to bottom, in the order a request flows; docs/architecture.md draws the same.
LAYERS = [
    "cli",
    "lab",
    "api",
    "analytics",
    "abusescan",
    "cascade",
    "gateway",
    "telemetry",
    "cache",
    "security",
    "routing",
    "providers",
    "economics",
    "tokens",
    "wire",
    "ledger",
    "db",
    "catalog",
    "pricing",
    "config",
    "redaction",
    "errors",
    "values",
]


def _layer(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src)
    if rel.name == "cli.py" or rel.parts[0] in ("__main__.py", "cli.py"):
        return "cli"
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "tokenport" and len(parts) > 1:
                out.add(parts[1])
    return out


def test_every_module_is_on_a_floor() -> None:
    floors = {_layer(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert floors <= set(LAYERS), f"modules outside the layer list: {floors - set(LAYERS)}"


def upward_imports(src: Path) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward: list[str] = []
    for path in sorted(src.rglob("*.py")):
        here = _layer(path, src)
        if here == "__init__":
            continue
        for there in _imported_layers(path):
            if there in rank and there != here and rank[there] < rank[here]:
                upward.append(f"{path.relative_to(src)} ({here}) imports {there}")
    return upward


def test_imports_only_point_down() -> None:
    upward = upward_imports(SRC)
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "wire").mkdir()
    (tmp_path / "wire" / "x.py").write_text("def f():\n    from tokenport.gateway import G\n")
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "cli.py").write_text("import tokenport.providers.registry\n")
    assert upward_imports(tmp_path) == ["wire/x.py (wire) imports gateway"]
