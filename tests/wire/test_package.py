"""The `wire` package face: every module is listed in it, and a public function name says
its format, so none repeats across modules (two `parse_request`s confused readers and
tools alike)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tokenport.wire

WIRE = Path(tokenport.wire.__file__).parent


def _public_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
    ]


def test_public_function_names_are_unique_across_wire_modules() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(WIRE.glob("*.py")):
        for name in _public_functions(path):
            where[name].append(path.stem)
    repeated = {name: mods for name, mods in where.items() if len(mods) > 1}
    assert not repeated, f"function names defined in more than one wire module: {repeated}"


def test_the_package_face_names_every_module_and_imports_none() -> None:
    face = (WIRE / "__init__.py").read_text(encoding="utf-8")
    modules = {p.stem for p in WIRE.glob("*.py")} - {"__init__"}
    missing = {m for m in modules if m not in face}
    assert not missing, f"wire/__init__.py does not name: {sorted(missing)}"
    tree = ast.parse(face)
    assert not [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
