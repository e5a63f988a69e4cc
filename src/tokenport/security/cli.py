"""`tokenport keys ...` and `tokenport usage`: straight to the configured database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenport.config import load_settings
from tokenport.errors import ConfigError, TokenportError
from tokenport.security.keys import ApiKey
from tokenport.security.keystore import KeyStore

console = Console()
err = Console(stderr=True)
keys_app = typer.Typer(help="Create, list, revoke and top up API keys.", no_args_is_help=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")]


def _db_url(config: Path | None) -> str:
    try:
        return load_settings(config).ledger_url()
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc


def _store(config: Path | None) -> KeyStore:
    return KeyStore(_db_url(config))


def _fail(exc: TokenportError) -> typer.Exit:
    err.print(f"[red]{exc.message}[/red]")
    return typer.Exit(1)


def _usd(v: float | None) -> str:
    return "unlimited" if v is None else f"${v:,.6f}"


def _key_table(keys: list[ApiKey]) -> Table:
    t = Table(
        "id",
        "name",
        "prefix",
        "state",
        "limit",
        "used",
        "remaining",
        "rpm",
        "tpm",
        "models",
        "expires",
    )
    now = time.time()
    for k in keys:
        t.add_row(
            k.id,
            k.name,
            k.prefix + "...",
            k.state(now),
            _usd(k.limit_usd),
            _usd(k.usage_usd),
            _usd(k.remaining_usd),
            str(k.rpm or "-"),
            str(k.tpm or "-"),
            ",".join(k.allowed_models or []) or "all",
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(k.expires_at)) if k.expires_at else "-",
        )
    return t


@keys_app.command("create")
def create(
    name: str,
    limit: Annotated[float | None, typer.Option(help="Credit limit in USD.", min=0)] = None,
    models: Annotated[
        str | None,
        typer.Option(
            help="Allowed models, comma-separated; shell-style patterns like 'deepseek/*'."
        ),
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.", min=1)] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.", min=1)] = None,
    expires_in_days: Annotated[float | None, typer.Option(min=0)] = None,
    country: Annotated[str | None, typer.Option(help="Country code, for rankings.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key. Its secret is printed once and never stored."""
    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    expires = time.time() + expires_in_days * 86400 if expires_in_days else None
    try:
        new = _store(config).create(
            name,
            credit_limit_usd=limit,
            allowed_models=allowed,
            rpm=rpm,
            tpm=tpm,
            expires_at=expires,
            country=country,
        )
    except TokenportError as exc:
        raise _fail(exc) from exc
    console.print(_key_table([new.key]))
    console.print(f"\nKey (shown once, store it now): [bold]{new.secret}[/bold]")


@keys_app.command("list")
def list_keys(config: ConfigOpt = None) -> None:
    """List keys with their limits and spend."""
    try:
        keys = _store(config).list()
    except TokenportError as exc:
        raise _fail(exc) from exc
    if not keys:
        console.print("No keys yet. Create one with: tokenport keys create NAME --limit 10")
        return
    console.print(_key_table(keys))


@keys_app.command("revoke")
def revoke(key_id: str, config: ConfigOpt = None) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    try:
        key = _store(config).revoke(key_id)
    except TokenportError as exc:
        raise _fail(exc) from exc
    console.print(_key_table([key]))


@keys_app.command("top-up")
def top_up(
    key_id: str,
    amount: Annotated[float, typer.Argument(help="USD to add to the credit limit.", min=0.000001)],
    config: ConfigOpt = None,
) -> None:
    """Add credit to a key."""
    try:
        key = _store(config).top_up(key_id, amount)
    except TokenportError as exc:
        raise _fail(exc) from exc
    console.print(_key_table([key]))


_GROUPS: dict[str, Any] = {
    "key": "key_id",
    "model": "model_served",
    "day": "day",
    "provider": "provider",
    "app": "app",
}


def usage(
    days: Annotated[int, typer.Option(help="How many days back.", min=1)] = 7,
    by: Annotated[str, typer.Option(help="Comma-separated: key, model, day, provider, app.")] = (
        "key,model,day"
    ),
    config: ConfigOpt = None,
) -> None:
    """Spend and tokens by key, model and day, from the ledger's hourly rollups."""
    from tokenport.ledger.store import open_store

    groups = [g.strip() for g in by.split(",") if g.strip()]
    bad = [g for g in groups if g not in _GROUPS]
    if bad:
        err.print(
            f"[red]Unknown --by value(s): {', '.join(bad)}.[/red] Allowed: {', '.join(_GROUPS)}."
        )
        raise typer.Exit(2)
    now = time.time()
    # Whole UTC days (today included), so the report reads the daily rollups.
    since = (int(now // 86400) - (days - 1)) * 86400
    try:
        store = open_store(_db_url(config))
        store.migrate()
        rows = store.usage_report(since, now, [_GROUPS[g] for g in groups])
        store.close()
    except TokenportError as exc:
        raise _fail(exc) from exc
    t = Table(
        *groups,
        "requests",
        "errors",
        "prompt tok",
        "completion tok",
        "cost (USD)",
        title=f"Usage, {days} UTC day(s) since {time.strftime('%Y-%m-%d', time.gmtime(since))}",
    )
    for r in sorted(rows, key=lambda r: -r.cost):
        cells = []
        for g in groups:
            if g == "day":
                cells.append(time.strftime("%Y-%m-%d", time.gmtime(r.bucket or 0)))
            else:
                cells.append(str(getattr(r, _GROUPS[g]) or "-"))
        t.add_row(
            *cells,
            f"{r.requests:,}",
            f"{r.errors:,}",
            f"{r.prompt_tokens:,}",
            f"{r.completion_tokens:,}",
            f"{r.cost:.6f}",
        )
    if not rows:
        console.print(f"No requests in the last {days} day(s).")
        return
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("usage")(usage)
