"""Every command's `--help`, as rendered, keeps its source text: each command's docstring and
each option's help, character for character (only line breaks and indentation may differ).
Rich markup once ate `[regions.*]`-style text, and typer's rich panels showed every flag as
`<bool>`; a flag must show as a flag, and every option needs its help."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator

import click
import pytest
import typer
from typer.testing import CliRunner

from tokenport.cli import _register_areas, app


def _commands() -> list[tuple[list[str], click.Command]]:
    _register_areas()
    root = typer.main.get_command(app)

    def walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
        yield path, cmd
        subs: dict[str, click.Command] = getattr(cmd, "commands", {})  # typer's groups too
        for name, sub in sorted(subs.items()):
            yield from walk(sub, [*path, name])

    return list(walk(root, []))


COMMANDS = _commands()


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"serve", "keys create", "economics report", "abuse simulate"} <= names
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) or "-" for p, _ in COMMANDS])
def test_help_keeps_the_source_text(path: list[str], cmd: click.Command) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    if cmd.help:
        assert _flat(inspect.cleandoc(cmd.help).partition("\f")[0]) in shown
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"tokenport {' '.join(path)} {param.opts[0]} has no help"
        assert _flat(param.help) in shown, param.opts[0]
        if param.is_flag:  # shown as `--json  Print ...`, not `--json <bool>`
            assert re.search(re.escape(param.opts[-1]) + r"\s+[A-Z]", result.output), param.opts
    assert "<bool>" not in result.output


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"tokenport \d+\.\d+\.\d+\S*\n", result.output)
