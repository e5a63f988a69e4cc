"""`tokenport rankings`, `tokenport simulate` and `tokenport export`.

`register(app)` adds them to the main typer app. `rankings --json` prints exactly the object
`GET /api/v1/rankings` serves. Bad arguments exit with status 2 and one line on stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tokenport.analytics.export import FORMATS, Format, export
from tokenport.analytics.rankings import Entry, Rankings, Section
from tokenport.analytics.service import ParamError, compute, parse_query
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog
from tokenport.config import Settings, load_settings
from tokenport.errors import ConfigError, TokenportError

Opt = typer.Option
ConfigOpt = Annotated[Path | None, Opt("--config", "-c", help="TOML config file.")]
DbOpt = Annotated[
    str | None, Opt("--database-url", help="Ledger database (default: the configured one).")
]
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("rankings")(rankings)
    app.command("export")(export_command)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise _fail(exc.message) from None


def _catalog(settings: Settings) -> Catalog:
    # The config's own providers may serve models the shipped catalog does not know.
    from tokenport.providers.registry import config_entries

    extra = [e for name, cfg in settings.providers.items() for e in config_entries(name, cfg)]
    return Catalog.load().with_entries(extra)


def rankings(
    window: Annotated[str, Opt(help="day, week or month")] = "week",
    mode: Annotated[str, Opt(help="rolling or calendar")] = "rolling",
    by: Annotated[
        str | None, Opt(help="Comma list of model,author,country,app,key,geography (default all)")
    ] = None,
    end: Annotated[str, Opt(help="auto, now, latest, an ISO date/time or Unix seconds")] = "auto",
    periods: Annotated[int, Opt(help="Periods of history for growth and charts")] = 8,
    limit: Annotated[int, Opt(help="Rows per table")] = 10,
    span: Annotated[int, Opt(help="Multi-period growth compares with this many periods back")] = 3,
    as_json: Annotated[bool, Opt("--json", help="Print the API's JSON object")] = False,
    database_url: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Top models, authors, countries, apps, spend by key and user geography."""
    settings = _settings(config)
    params = {"window": window, "mode": mode, "end": end}
    params |= {"periods": str(periods), "limit": str(limit), "span": str(span)}
    if by:
        params["by"] = by
    try:
        query = parse_query(params)
    except ParamError as exc:
        allowed = f" (allowed: {', '.join(exc.allowed)})" if exc.allowed else ""
        raise _fail(f"--{exc.param}: {exc.message}{allowed}") from None
    source = RollupSource(database_url or settings.ledger_url())
    try:
        result = compute(query, source, _catalog(settings))
    except TokenportError as exc:
        raise _fail(exc.message, 1) from None
    finally:
        source.close()
    if as_json:
        typer.echo(msgspec.json.format(msgspec.json.encode(result)).decode())
        return
    print_rankings(Console(), result)


def _growth(g: float | None) -> str:
    if g is None:
        return "[blue]new[/blue]"
    color, arrow = ("green", "▲") if g >= 0 else ("red", "▼")
    return f"[{color}]{arrow} {abs(g):.1%}[/{color}]"


def tokens(n: float) -> str:
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


Column = tuple[str, Callable[[Entry], str]]
_COLUMNS: dict[str, list[Column]] = {
    "model": [
        ("model", lambda e: e.name), ("author", lambda e: e.author or ""),
        ("country", lambda e: e.country or ""), ("tokens", lambda e: tokens(e.tokens)),
        ("input", lambda e: tokens(e.prompt_tokens)),
        ("output", lambda e: tokens(e.completion_tokens)),
        ("requests", lambda e: f"{e.requests:,}"), ("spend", lambda e: f"${e.cost:,.2f}"),
    ],
    "author": [("author", lambda e: e.name), ("country", lambda e: e.country or ""),
               ("tokens", lambda e: tokens(e.tokens)), ("spend", lambda e: f"${e.cost:,.2f}")],
    "country": [("country", lambda e: e.name), ("tokens", lambda e: tokens(e.tokens)),
                ("spend", lambda e: f"${e.cost:,.2f}")],
    "app": [("app", lambda e: e.name), ("tokens", lambda e: tokens(e.tokens)),
            ("requests", lambda e: f"{e.requests:,}")],
    "key": [("key", lambda e: e.name), ("country", lambda e: e.country or ""),
            ("spend", lambda e: f"${e.cost:,.4f}"), ("tokens", lambda e: tokens(e.tokens)),
            ("requests", lambda e: f"{e.requests:,}")],
    "geography": [("country", lambda e: e.name), ("users", lambda e: str(e.users or 0)),
                  ("tokens", lambda e: tokens(e.tokens)), ("spend", lambda e: f"${e.cost:,.2f}")],
}  # fmt: skip
_TITLES = {
    "model": "Top models by tokens",
    "author": "Market share by author",
    "country": "Market share by author country",
    "app": "Top apps",
    "key": "Spend by key",
    "geography": "User geography (key's registered country)",
}
_SHARE_OF = {"key": "of spend", "geography": "of users"}


def print_rankings(console: Console, r: Rankings) -> None:
    note = " (no recent traffic: ending at the newest data)" if r.end_source == "latest" else ""
    console.print(
        f"[bold]{r.window.capitalize()}[/bold] {r.mode} window {r.period.since} → "
        f"{r.period.until}{note}",
        highlight=False,
    )
    t = r.totals
    console.print(
        f"{tokens(t.tokens)} tokens ({tokens(t.prompt_tokens)} in, {tokens(t.completion_tokens)}"
        f" out), {t.requests:,} requests, {t.errors:,} errors, ${t.cost:,.2f}",
        highlight=False,
    )
    if r.empty:
        console.print(
            "[yellow]The ledger has no traffic in this window.[/yellow] Send requests through "
            "the gateway, or try: tokenport simulate --scenario feb-2026"
        )
        return
    for name, section in r.sections.items():
        console.print(_table(name, section, r))


def _table(name: str, s: Section, r: Rankings) -> Table:
    growth = name not in ("key", "geography")
    table = Table(title=_TITLES[name], title_justify="left")
    table.add_column("#", justify="right")
    for header, _ in _COLUMNS[name]:
        left = header in ("model", "author", "app", "key")
        table.add_column(header, justify="left" if left else "right")
    table.add_column(f"share {_SHARE_OF.get(name, '')}".strip(), justify="right")
    if growth:
        table.add_column("vs prev", justify="right")
        table.add_column(f"{r.span} {r.window}s", justify="right")
    rows = [*s.rows, *([s.other] if s.other else [])]
    for e in rows:
        cells = [str(e.rank) if e.id != "other" else "", *(f(e) for _, f in _COLUMNS[name])]
        cells.append(f"{e.share:.1%}")
        if growth:
            cells += [_growth(e.growth), _growth(e.growth_span)]
        table.add_row(*cells)
    return table


def export_command(
    out: Annotated[Path, Opt(help="Folder to write requests.* and rollup_hourly.* into")],
    fmt: Annotated[str, Opt("--format", help="csv or parquet")] = "csv",
    since: Annotated[str | None, Opt(help="From this time (ISO or Unix seconds)")] = None,
    until: Annotated[str | None, Opt(help="Before this time")] = None,
    database_url: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Export the ledger and its hourly rollups to CSV or Parquet."""
    from tokenport.analytics.periods import parse_time

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    try:
        low = parse_time(since) if since else None
        high = parse_time(until) if until else None
    except ValueError:
        raise _fail("--since/--until must be an ISO date/time or Unix seconds") from None
    url = database_url or _settings(config).ledger_url()
    try:
        written = export(url, out, cast(Format, fmt), since=low, until=high)
    except TokenportError as exc:
        raise _fail(exc.message, 1) from None
    console = Console()
    for w in written:
        console.print(f"{w.table}: {w.rows:,} rows -> {w.path}", highlight=False)
