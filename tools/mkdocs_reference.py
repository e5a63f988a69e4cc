"""The manual's two reference pages, generated from the code when the site is built.

mkdocs runs this as a hook (`hooks:` in mkdocs.yml): `docs/cli.md` and
`docs/configuration.md` hold a marker that `on_page_markdown` replaces with the `tokenport`
command tree (typer's commands, arguments, options and help) and the settings model's
fields (pydantic's `Settings` and its sections: type, default, description), so neither
page can drift from the code. `python tools/mkdocs_reference.py cli|configuration` prints
one page's generated part.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MARKERS = {
    "cli.md": "<!-- generated: cli -->",
    "configuration.md": "<!-- generated: configuration -->",
}


# -- the command line ---------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _text(text: str) -> str:
    """Prose for a table cell: one line, no pipes, and `<name>` shown rather than parsed as
    HTML (inside backticks it is code already)."""
    parts = _cell(text).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


# typer ships its own copy of click, so commands and parameters are read by their attributes.


def _param_row(param: Any) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
        help_text = param.help or ""
        default = param.default
        shown = "" if default in (None, (), False) or callable(default) else f"`{default}`"
        if param.is_flag and param.secondary_opts:
            shown = f"`{'on' if default else 'off'}`"
        return f"| {names} | {_text(help_text)} | {shown} |"
    required = "required" if param.required else "optional"
    name = (param.name or "").upper()
    help_text = getattr(param, "help", None) or ""
    return f"| `{name}` ({required}) | {_text(help_text)} | |"


def _commands(group: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, group
    for name in sorted(getattr(group, "commands", {})):
        command = group.commands[name]
        if not command.hidden:
            yield from _commands(command, [*path, name])


def cli_page() -> str:
    from tokenport.cli import _register_areas, app

    _register_areas()
    root = typer.main.get_command(app)
    out: list[str] = []
    for path, command in _commands(root, ["tokenport"]):
        depth = min(len(path) + 1, 4)
        out.append(f"{'#' * depth} `{' '.join(path)}`\n")
        help_text = inspect.cleandoc(command.help or "").split("\n\n")
        if help_text and help_text[0]:
            out.append("\n\n".join(_text(p) for p in help_text) + "\n")
        params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", 0)]
        if params:
            out.append("| argument / option | what | default |")
            out.append("| --- | --- | --- |")
            out.extend(_param_row(p) for p in params)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# -- the configuration file -----------------------------------------------------------------


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment lines right above each field in the model's source: its description there."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above: list[str] = []
            n = node.lineno - 2
            while n >= 0 and lines[n].strip().startswith("#"):
                above.insert(0, lines[n].strip().lstrip("#").strip())
                n -= 1
            if above:
                found[node.target.id] = " ".join(above)
    return found


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    for noise in ("typing.", "pathlib.", "tokenport.config.", "<class '", "'>"):
        text = text.replace(noise, "")
    return text


def _toml(value: Any) -> str:
    if isinstance(value, Path):
        return "the platform's user data directory (platformdirs)"
    if isinstance(value, str | int | float | bool | list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        try:
            value: Any = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return ""
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "see below"
    return "" if value in (None, {}, []) else _toml(value)


def _section(model: type[BaseModel], title: str) -> Iterator[str]:
    comments = _comments(model)
    doc = inspect.cleandoc(model.__doc__ or "") if model.__doc__ != BaseModel.__doc__ else ""
    yield f"## `{title}`\n"
    if doc:
        yield _text(doc) + "\n"
    yield "| field | type | default | what |"
    yield "| --- | --- | --- | --- |"
    for name, info in model.model_fields.items():
        what = info.description or comments.get(name, "")
        row = f"| `{name}` | `{_cell(_type(info.annotation))}` | {_default(info)} | {_text(what)} |"
        yield row
    yield ""


def _models(model: type[BaseModel], title: str) -> Iterator[tuple[type[BaseModel], str]]:
    """Each settings model with its TOML table: `[a.b]`, `[a.b.<name>]` for a dict of
    them, `[[a.b]]` for a list."""
    yield model, title
    prefix = "" if title == "top level" else title.strip("[]") + "."
    for name, info in model.model_fields.items():
        origin = get_origin(info.annotation)
        for inner in _inner_models(info.annotation):
            if origin is dict:
                yield from _models(inner, f"[{prefix}{name}.<name>]")
            elif origin is list:
                yield from _models(inner, f"[[{prefix}{name}]]")
            else:
                yield from _models(inner, f"[{prefix}{name}]")


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _inner_models(arg)
    return found


def configuration_page() -> str:
    from tokenport.config import Settings

    seen: set[type[BaseModel]] = set()
    out: list[str] = []
    for model, title in _models(Settings, "top level"):
        if model in seen:
            continue
        seen.add(model)
        out.extend(_section(model, title))
    return "\n".join(out).rstrip() + "\n"


PAGES = {"cli.md": cli_page, "configuration.md": configuration_page}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """mkdocs hook: put the generated part where a reference page keeps its marker."""
    name = page.file.src_uri
    if name in MARKERS:
        return markdown.replace(MARKERS[name], PAGES[name]())
    return markdown


if __name__ == "__main__":
    sys.stdout.write(PAGES[f"{sys.argv[1]}.md"]())
