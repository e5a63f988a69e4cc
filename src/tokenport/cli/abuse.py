"""`tokenport abuse ...`: scan the ledger, list and reverse actions.

    tokenport abuse scan [--database-url URL] [--since DATE] [--until DATE] [--json]
    tokenport abuse actions [--json]
    tokenport abuse act KEY_ID block|review|throttle|flag [--note TEXT]
    tokenport abuse reverse ACTION_OR_KEY_ID [--note TEXT]

`scan --json` prints exactly one JSON object: {"accounts": [...], "clusters": [...]}. With a
policy other than `observe` in the config, the scan also acts on the keys it scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tokenport.abusescan.action_log import ActionLog
from tokenport.abusescan.policy import apply as apply_policy
from tokenport.abusescan.report import Report, public
from tokenport.abusescan.when import parse_when
from tokenport.config import Settings, load_settings
from tokenport.errors import ConfigError, TokenportError
from tokenport.security.abuse.actions import Action

abuse_app = typer.Typer(
    help="Distillation and abuse defense: scan the ledger, act on keys.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")]
UrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Ledger database (default: the configured one)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _settings(config: Path | None, url: str | None) -> tuple[Settings, str]:
    try:
        s = load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc
    return s, url or s.ledger_url()


@abuse_app.command("scan")
def scan(
    database_url: UrlOpt = None,
    since: Annotated[
        str | None, typer.Option(help="Window start: a date or datetime (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Window end (default: the last record).")
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Score every key with traffic in the window and group keys into networks."""
    from tokenport.abusescan.scan import scan as run_scan

    settings, url = _settings(config, database_url)
    try:
        start, end = parse_when(since, "--since"), parse_when(until, "--until")
        report = run_scan(url, start, end, threshold=settings.abuse.threshold)
        store = ActionLog(url)
        try:
            taken = apply_policy(store, report, settings.abuse)
        finally:
            store.close()
    except TokenportError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(msgspec.json.encode(public(report)).decode())
        return
    _print_report(report, len(taken))


def _print_report(report: Report, taken: int) -> None:
    flagged = [a for a in report.accounts if a.flagged]
    console.print(
        f"{len(report.accounts)} keys with traffic, {report.records} requests; "
        f"{len(flagged)} flagged, {len(report.clusters)} networks"
        + (f"; {taken} actions taken by policy" if taken else "")
    )
    table = Table("network", "keys", "score", "evidence")
    for c in report.clusters:
        table.add_row(c.id, str(len(c.key_ids)), f"{c.score:.2f}", "\n".join(c.reasons))
    if report.clusters:
        console.print(table)
    keys = Table("key", "score", "network", "reasons")
    for a in flagged[:50]:
        keys.add_row(a.key_id, f"{a.score:.2f}", a.cluster or "", "\n".join(a.reasons[:4]))
    if flagged:
        console.print(keys)


def _action_json(a: Action) -> dict[str, Any]:
    return msgspec.structs.asdict(a)


@abuse_app.command("actions")
def actions(
    database_url: UrlOpt = None, as_json: JsonOpt = False, config: ConfigOpt = None
) -> None:
    """Every action taken on keys, newest first (reversed ones too)."""
    _, url = _settings(config, database_url)
    store = ActionLog(url)
    try:
        found = store.all()
    finally:
        store.close()
    if as_json:
        typer.echo(msgspec.json.encode([_action_json(a) for a in found]).decode())
        return
    table = Table("id", "key", "action", "score", "by", "state")
    for a in found:
        state = "in force" if a.in_force else f"reversed by {a.reversed_by}"
        table.add_row(a.id, a.key_id, a.action, f"{a.score:.2f}", a.created_by, state)
    console.print(table)


@abuse_app.command("act")
def act(
    key_id: str,
    action: str,
    note: Annotated[str | None, typer.Option(help="Why, for the log.")] = None,
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Put an action on a key by hand: flag, throttle, review or block."""
    _, url = _settings(config, database_url)
    store = ActionLog(url)
    try:
        a = store.record(key_id, action, 1.0, None, [note or "by hand"], "cli", note)
    except TokenportError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    console.print(f"{a.action} on {a.key_id} ({a.id}); gateways apply it within refresh_s.")


@abuse_app.command("reverse")
def reverse(
    ident: str,
    note: Annotated[str | None, typer.Option(help="Why, for the log.")] = None,
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Reverse an action (by its id), or every action in force on a key (by the key's id)."""
    _, url = _settings(config, database_url)
    store = ActionLog(url)
    try:
        done = store.reverse(ident, "cli", note)
    except TokenportError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    finally:
        store.close()
    console.print(f"reversed {len(done)} action(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(abuse_app, name="abuse")
