"""The house's floors: every import in `src/tokenport` points down the layer order below,
and the module graph has no circle.

Every command-line module lives in `tokenport/cli/` (the top floor); no area keeps a
cli.py of its own. Lazy imports inside functions count too, and so do
`importlib.import_module("tokenport...")` calls with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
    "plugins",
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
    "ids",
]


def _layer(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src)
    if rel.parts[0] == "__main__.py":
        return "cli"
    return rel.parts[0].removesuffix(".py")


def _module_of(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["tokenport", *parts])


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names imported from it) for each import of this file, lazy ones and
    `importlib.import_module("...")` with a literal name included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, []


def _imported_layers(path: Path) -> set[str]:
    out: set[str] = set()
    for name, _ in _imports(path):
        parts = name.split(".")
        if parts[0] == "tokenport" and len(parts) > 1:
            out.add(parts[1])
    return out


def module_graph(src: Path) -> dict[str, set[str]]:
    """tokenport module -> the tokenport modules it imports. `from a import b` points at the
    module `a.b` when there is one, else at `a`; a parent package that Python runs on the way
    is not an edge (every submodule import would otherwise loop through its `__init__`)."""
    paths = {_module_of(p, src): p for p in src.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for here, path in paths.items():
        edges: set[str] = set()
        for name, names in _imports(path):
            if name.split(".")[0] != "tokenport":
                continue
            subs = [f"{name}.{n}" for n in names if f"{name}.{n}" in paths]
            edges.update(subs or [name])
        graph[here] = {m for m in edges if m in paths and m != here}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


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
    assert upward_imports(tmp_path) == [
        "catalog/cli.py (catalog) imports providers",
        "wire/x.py (wire) imports gateway",
    ]


def test_no_circles() -> None:
    found = circles(module_graph(SRC))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_circle_and_an_importlib_arrow_are_caught(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "a.py").write_text("from tokenport.ledger import b\n")
    (tmp_path / "ledger" / "b.py").write_text("def f():\n    import tokenport.ledger.a\n")
    (tmp_path / "economics").mkdir()
    (tmp_path / "economics" / "p.py").write_text(
        "import importlib\nm = importlib.import_module('tokenport.cache.store')\n"
    )
    assert circles(module_graph(tmp_path)) == [["tokenport.ledger.a", "tokenport.ledger.b"]]
    assert upward_imports(tmp_path) == ["economics/p.py (economics) imports cache"]
