"""The manual (mkdocs.yml, docs/) builds with `mkdocs build --strict`: no broken link or
anchor, no page left out of the nav. Its two reference pages are generated from the code at
build time (tools/mkdocs_reference.py); here they are checked to name every command,
option and setting, so the generator cannot silently drop one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer

from tokenport.cli import _register_areas, app
from tokenport.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mkdocs_reference", ROOT / "tools" / "mkdocs_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_manual_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "tokenport keys create" in cli and "<!-- generated" not in cli


def test_the_cli_reference_names_every_command_and_option() -> None:
    page = _reference().cli_page()
    _register_areas()
    missing: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        if f"`{' '.join(path)}`" not in page:
            missing.append(" ".join(path))
        for param in getattr(command, "params", []):
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help" and f"`{opt}`" not in page:
                    missing.append(f"{' '.join(path)} {opt}")
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), ["tokenport"])
    assert not missing, f"left out of the CLI reference: {missing}"


def test_the_configuration_reference_names_every_setting() -> None:
    reference = _reference()
    page = reference.configuration_page()
    for model, title in reference._models(Settings, "top level"):
        assert f"## `{title}`" in page
        for name in model.model_fields:
            assert f"| `{name}` |" in page, f"{title} {name}"
    assert "| `require_keys` | `bool` | `false` |" in page
