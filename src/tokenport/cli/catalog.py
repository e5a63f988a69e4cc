"""The catalog's commands: `models` (browse and filter) and `catalog-rebuild`.

`register(app)` adds them to the main `tokenport` app, so this module owns its commands'
options and output without the top-level CLI knowing about them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tokenport.catalog.build import DEFAULT_PROVIDERS, write_catalog
from tokenport.catalog.model import ModelEntry
from tokenport.catalog.store import Catalog, default_catalog_path
from tokenport.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add `models` and `catalog-rebuild` to `app`."""
    app.command("models")(models)
    app.command("catalog-rebuild")(catalog_rebuild)


def models(
    provider: Annotated[str | None, typer.Option(help="Only this provider, e.g. deepseek.")] = None,
    author: Annotated[
        str | None, typer.Option(help="Only this model author, e.g. moonshotai or qwen.")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Only authors based here, e.g. CN, US, FR.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Substring of the id, name or author.")] = None,
    max_input_price: Annotated[
        float | None, typer.Option(help="Most USD per 1M input tokens.")
    ] = None,
    max_output_price: Annotated[
        float | None, typer.Option(help="Most USD per 1M output tokens.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, nothing else.")
    ] = False,
    catalog: Annotated[
        Path | None, typer.Option(help="A catalog file to read instead of the shipped one.")
    ] = None,
    available: Annotated[
        bool, typer.Option("--available", help="Only models usable here (a key is set).")
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")] = None,
) -> None:
    """List the models this gateway serves, as `GET /v1/models` does: the catalog plus the
    config's own providers and the local model, prices in USD per 1M tokens, and whether each
    is usable here."""
    try:
        cat = Catalog.load(catalog)
    except (OSError, msgspec.DecodeError) as exc:
        typer.echo(f"error: cannot read the catalog {catalog or ''}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        cat, usable = _as_served(cat, config)
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    found = cat.filter(
        provider=provider,
        author=author,
        country=country,
        search=search,
        max_input_price=max_input_price,
        max_output_price=max_output_price,
    )
    if available:
        found = [e for e in found if e.provider in usable]
    found.sort(key=lambda e: (e.provider, e.id))
    if as_json:
        rows = [msgspec.structs.asdict(e) | {"available": e.provider in usable} for e in found]
        typer.echo(msgspec.json.encode(rows).decode())
        return
    if not found:
        typer.echo("No models match those filters.", err=True)
        if provider and provider.lower() not in cat.providers():
            typer.echo(f"Known providers: {', '.join(cat.providers())}", err=True)
        raise typer.Exit(1)
    console = Console()
    console.print(_table(found, cat.attribution, usable, console.width))


def _as_served(cat: Catalog, config: Path | None) -> tuple[Catalog, set[str]]:
    """The catalog as a gateway started with `config` here would serve it, and the providers
    it could use: the same `build_registry` as `serve`, so `models` and `/v1/models` agree."""
    from tokenport.config import load_settings
    from tokenport.providers.local import model_path
    from tokenport.providers.registry import LOCAL, build_registry

    settings = load_settings(config)
    # Not started here: a placeholder address, so the local model is listed as configured.
    reg = build_registry(settings, os.environ, "http://127.0.0.1:0")
    usable = set(reg.providers)
    if LOCAL in usable:
        try:
            model_path(settings.local)
        except ConfigError:
            usable.discard(LOCAL)  # enabled, but its GGUF is not installed
    return cat.with_entries(reg.extra_entries), usable


# Below this width the name, author and cache columns are left out (the id names the author;
# --json has everything), so the table fits an 80-column terminal.
_WIDE = 120


def _table(
    entries: list[ModelEntry], attribution: dict[str, str], usable: set[str], width: int
) -> Table:
    caption = None
    if attribution:
        commit = attribution.get("commit", "unknown")[:12]
        caption = f"Data: models.dev @ {commit}, {attribution.get('license', 'MIT License')}"
    wide = width >= _WIDE
    table = Table(
        title=f"{len(entries)} models", caption=caption, box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("id", overflow="fold")
    if wide:
        table.add_column("name")
        table.add_column("author")
    table.add_column("country" if wide else "ctry", no_wrap=True)
    heads = ("context", "$/M in", "$/M out", "cache read") if wide else ("ctx", "in", "out")
    for header in heads:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("usable", no_wrap=True)
    for e in entries:
        prices = [_usd(e.pricing.input), _usd(e.pricing.output)]
        if wide:
            prices.append(_usd(e.pricing.cache_read))
        table.add_row(
            e.id,
            *((e.name, e.author) if wide else ()),
            e.country,
            _tokens(e.context_length),
            *prices,
            "yes" if e.provider in usable else "no",
        )
    return table


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _tokens(count: int | None) -> str:
    if count is None:
        return "-"
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{count / 1000:.0f}K" if count >= 1000 else str(count)


def catalog_rebuild(
    source: Annotated[
        Path,
        typer.Option(
            "--from",
            help="A models.dev snapshot JSON, or a built models.dev checkout (with api.json).",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="Where to write; default: the package's catalog.json.")
    ] = None,
) -> None:
    """Regenerate the catalog from a models.dev snapshot."""
    target = out or default_catalog_path()
    try:
        doc = write_catalog(source, target)
    except ConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    written = {m["provider"] for m in doc["models"]}
    typer.echo(f"Wrote {len(doc['models'])} models from {len(written)} providers to {target}")
    if missing := [p for p in DEFAULT_PROVIDERS if p not in written]:
        typer.echo(f"No models in the snapshot for: {', '.join(missing)}")
    if doc["excluded"]:
        left_out = ", ".join(f"{n} {why}" for why, n in doc["excluded"].items())
        typer.echo(f"Left out: {left_out}")
