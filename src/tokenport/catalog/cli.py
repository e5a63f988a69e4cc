"""The catalog's commands: `models` (browse and filter) and `catalog-rebuild`.

`register(app)` adds them to the main `tokenport` app, so this module owns its commands'
options and output without the top-level CLI knowing about them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer
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
) -> None:
    """List the model catalog with prices in USD per 1M tokens."""
    try:
        cat = Catalog.load(catalog)
    except (OSError, msgspec.DecodeError) as exc:
        typer.echo(f"error: cannot read the catalog {catalog or ''}: {exc}", err=True)
        raise typer.Exit(2) from exc
    found = cat.filter(
        provider=provider,
        author=author,
        country=country,
        search=search,
        max_input_price=max_input_price,
        max_output_price=max_output_price,
    )
    found.sort(key=lambda e: (e.provider, e.id))
    if as_json:
        typer.echo(msgspec.json.encode(found).decode())
        return
    if not found:
        typer.echo("No models match those filters.", err=True)
        if provider and provider.lower() not in cat.providers():
            typer.echo(f"Known providers: {', '.join(cat.providers())}", err=True)
        raise typer.Exit(1)
    Console().print(_table(found, cat.attribution))


def _table(entries: list[ModelEntry], attribution: dict[str, str]) -> Table:
    caption = None
    if attribution:
        commit = attribution.get("commit", "unknown")[:12]
        caption = f"Data: models.dev @ {commit}, {attribution.get('license', 'MIT License')}"
    table = Table(title=f"{len(entries)} models", caption=caption)
    table.add_column("id", overflow="fold")
    table.add_column("name")
    table.add_column("author")
    table.add_column("country")
    for header in ("context", "$/M in", "$/M out", "cache read"):
        table.add_column(header, justify="right")
    for e in entries:
        table.add_row(
            e.id,
            e.name,
            e.author,
            e.country,
            _tokens(e.context_length),
            _usd(e.pricing.input),
            _usd(e.pricing.output),
            _usd(e.pricing.cache_read),
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
