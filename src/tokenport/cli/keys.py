"""`tokenport keys ...` and `tokenport usage`: straight to the configured database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tokenport.config import load_settings
from tokenport.errors import ConfigError, TokenportError
from tokenport.ledger.store import UsageRow
from tokenport.security.keys import MAX_CREDIT_USD, ApiKey
from tokenport.security.keystore import KeyStore
from tokenport.security.manage import KeyPatch, KeySpec, Manager, key_json
from tokenport.security.principal import CLI

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


def _manager(config: Path | None) -> Manager:
    """The management API's own code path (`security/manage.py`), as the gateway's admin."""
    return Manager(_store(config))


ResetOpt = Annotated[
    str | None, typer.Option(help="The limit resets: daily, weekly or monthly (UTC).")
]


def _fail(exc: TokenportError) -> typer.Exit:
    err.print(f"[red]{exc.message}[/red]")
    return typer.Exit(1)


def _usd(v: float | None) -> str:
    if v is None:
        return "unlimited"
    text = f"{v:,.6f}".rstrip("0").rstrip(".")
    return f"${text}"


def _compact(n: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}"


def _table(*columns: str, title: str | None = None) -> Table:
    """Light borders and folded text: a key id is the handle for `top-up` and `revoke`, so
    it is never cut, and the table still fits 80 columns."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title)
    for name in columns:
        if name in _FOLDED:
            t.add_column(name, overflow="fold")
        else:
            t.add_column(name, no_wrap=True, justify="left" if name in _TEXT else "right")
    return t


# Free text folds onto more lines; ids, dates and figures are never cut.
_FOLDED = frozenset(("name", "models", "model", "provider", "app", "spent / limit"))
_TEXT = frozenset(("id", "key", "day", "state", "expires"))


# Below this width the key table's nine columns would squeeze to a few letters each.
_WIDE = 110


def _key_table(keys: list[ApiKey]) -> Table:
    t = _table("id", "name", "state", "spent / limit", "left", "rpm", "tpm", "models", "expires")
    now = time.time()
    for k in keys:
        t.add_row(
            k.id,
            k.name,
            k.state(now),
            f"{_usd(k.usage_usd)} / {_usd(k.limit_usd)}",
            _usd(k.remaining_usd),
            _compact(k.rpm) if k.rpm else "-",
            _compact(k.tpm) if k.tpm else "-",
            ", ".join(k.allowed_models or []) or "all",
            _day(k.expires_at),
        )
    return t


def _day(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts)) if ts else "-"


def _print_key_lines(keys: list[ApiKey]) -> None:
    """Narrow terminals: the whole id and name on one line, the rest wrapped below it."""
    now = time.time()
    for k in keys:
        console.print(f"[bold]{k.id}[/bold]  {k.name}  {k.state(now)}", highlight=False)
        credit = (
            f"spent {_usd(k.usage_usd)}, no limit"
            if k.limit_usd is None
            else f"spent {_usd(k.usage_usd)} of {_usd(k.limit_usd)}, {_usd(k.remaining_usd)} left"
        )
        parts = [
            credit,
            f"{_compact(k.rpm)} rpm" if k.rpm else "no rpm limit",
            f"{_compact(k.tpm)} tpm" if k.tpm else "no tpm limit",
            "models " + (", ".join(k.allowed_models or []) or "all"),
            f"expires {_day(k.expires_at)}" if k.expires_at else "no expiry",
        ]
        console.print("  " + " · ".join(parts), highlight=False)


def _print_keys(keys: list[ApiKey], as_json: bool, secret: str | None = None) -> None:
    if not as_json:
        if console.width >= _WIDE:
            console.print(_key_table(keys))
        else:
            _print_key_lines(keys)
        return

    if secret is not None:  # `create`: the admin API's shape, secret included
        typer.echo(msgspec.json.encode({"data": key_json(keys[0]), "key": secret}).decode())
    else:
        typer.echo(msgspec.json.encode({"data": [key_json(k) for k in keys]}).decode())


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (the admin API's shape), nothing else.")
]


@keys_app.command("create")
def create(
    name: str,
    limit: Annotated[
        float | None, typer.Option(help="Credit limit in USD.", min=0, max=MAX_CREDIT_USD)
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            help="Allowed models, comma-separated; shell-style patterns like 'deepseek/*'."
        ),
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.", min=1, max=10**9)] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.", min=1, max=10**9)] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option(
            min=0, max=36_500, help="Days until the key expires (fractions allowed); default never."
        ),
    ] = None,
    country: Annotated[str | None, typer.Option(help="Country code, for rankings.")] = None,
    limit_reset: ResetOpt = None,
    workspace: Annotated[
        str | None, typer.Option(help="The workspace that owns the key (default: default).")
    ] = None,
    member: Annotated[str | None, typer.Option(help="The member who owns the key.")] = None,
    management: Annotated[
        bool, typer.Option(help="A management key: it manages, and cannot call models.")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Create a key. Its secret is printed once and never stored."""
    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        spec = msgspec.convert(
            {
                "name": name,
                "limit": limit,
                "limit_reset": limit_reset,
                "allowed_models": allowed,
                "rpm": rpm,
                "tpm": tpm,
                "expires_in_days": expires_in_days or None,
                "country": country,
                "workspace_id": workspace,
                "member_id": member,
                "scope": "management" if management else "inference",
            },
            KeySpec,
        )
        new = _manager(config).create_key(CLI, spec, created_via="tokenport keys create")
    except msgspec.ValidationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except TokenportError as exc:
        raise _fail(exc) from exc
    _print_keys([new.key], as_json, new.secret)
    if not as_json:
        console.print(f"\nKey (shown once, store it now): [bold]{new.secret}[/bold]")


@keys_app.command("list")
def list_keys(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List keys with their limits and spend."""
    try:
        keys = _store(config).list()
    except TokenportError as exc:
        raise _fail(exc) from exc
    if not keys and not as_json:
        console.print("No keys yet. Create one with: tokenport keys create NAME --limit 10")
        return
    _print_keys(keys, as_json)


@keys_app.command("revoke")
def revoke(key_id: str, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    try:
        key = _manager(config).revoke_key(CLI, key_id)
    except TokenportError as exc:
        raise _fail(exc) from exc
    _print_keys([key], as_json)


@keys_app.command("edit")
def edit(
    key_id: str,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    limit: Annotated[
        float | None, typer.Option(help="The limit in USD.", min=0, max=MAX_CREDIT_USD)
    ] = None,
    no_limit: Annotated[bool, typer.Option(help="Remove the key's limit.")] = False,
    limit_reset: ResetOpt = None,
    no_reset: Annotated[bool, typer.Option(help="The limit never resets (a credit).")] = False,
    disable: Annotated[bool, typer.Option(help="Disable the key (401 until enabled).")] = False,
    enable: Annotated[bool, typer.Option(help="Enable a disabled key.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Edit a key as `PATCH /api/v1/keys/{id}` does (and through the same code)."""
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = name
    if limit is not None or no_limit:
        fields["limit"] = None if no_limit else limit
    if limit_reset is not None or no_reset:
        fields["limit_reset"] = None if no_reset else limit_reset
    if disable or enable:
        fields["disabled"] = disable
    try:
        patch = msgspec.convert(fields, KeyPatch)
        key = _manager(config).update_key(CLI, key_id, patch)
    except msgspec.ValidationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except TokenportError as exc:
        raise _fail(exc) from exc
    _print_keys([key], as_json)


@keys_app.command("delete")
def delete(key_id: str, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Delete a key (its ledger records stay); requests with it get 401 from then on."""
    try:
        key = _manager(config).delete_key(CLI, key_id)
    except TokenportError as exc:
        raise _fail(exc) from exc
    _print_keys([key], as_json)


@keys_app.command("top-up")
def top_up(
    key_id: str,
    amount: Annotated[
        float,
        typer.Argument(help="USD to add to the credit limit.", min=0.000001, max=MAX_CREDIT_USD),
    ],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Add credit to a key."""
    try:
        key = _manager(config).top_up(CLI, key_id, amount)
    except TokenportError as exc:
        raise _fail(exc) from exc
    _print_keys([key], as_json)


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
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print {since, until, rows: [...]} as JSON, nothing else."),
    ] = False,
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
    rows = sorted(rows, key=lambda r: -r.cost)
    if as_json:
        out = {
            "since": since,
            "until": now,
            "by": groups,
            "rows": [_usage_json(r, groups) for r in rows],
        }
        typer.echo(msgspec.json.encode(out).decode())
        return
    if not rows:
        console.print(f"No requests in the last {days} day(s).")
        return
    day = time.strftime("%Y-%m-%d", time.gmtime(since))
    console.print(f"Usage since {day} (UTC), by {', '.join(groups)}", highlight=False)
    if "key" not in groups:
        console.print(_usage_table(rows, groups))
        return
    # One table per key, its whole id in the heading: an id column (30 characters) beside a
    # model column does not fit 80 columns without cutting one of them.
    names = _key_names(config)
    rest = [g for g in groups if g != "key"]
    by_key: dict[str | None, list[UsageRow]] = {}
    for r in rows:  # already dearest first, so keys come out in order of spend
        by_key.setdefault(r.key_id, []).append(r)
    for key_id, key_rows in by_key.items():
        heading = f"{key_id} ({names[key_id]})" if key_id in names else (key_id or "no key")
        console.print(f"\n[bold]{heading}[/bold]", highlight=False)
        console.print(_usage_table(key_rows, rest))


def _key_names(config: Path | None) -> dict[str, str]:
    try:
        store = _store(config)
        try:
            return {k.id: k.name for k in store.list()}
        finally:
            store.close()
    except TokenportError:
        return {}


def _usage_table(rows: list[UsageRow], groups: list[str]) -> Table:
    t = _table(*groups, "req", "err", "tok in", "tok out", "USD")
    for r in rows:
        t.add_row(
            *(_group_cell(r, g) for g in groups),
            _compact(r.requests),
            _compact(r.errors),
            _compact(r.prompt_tokens),
            _compact(r.completion_tokens),
            f"{r.cost:.6f}",
        )
    return t


def _group_cell(r: UsageRow, group: str) -> str:
    if group == "day":
        return time.strftime("%Y-%m-%d", time.gmtime(r.bucket or 0))
    return str(getattr(r, _GROUPS[group]) or "-")


def _usage_json(r: UsageRow, groups: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {g: (r.bucket if g == "day" else getattr(r, _GROUPS[g])) for g in groups}
    out.update(
        requests=r.requests,
        errors=r.errors,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        cached_tokens=r.cached_tokens,
        reasoning_tokens=r.reasoning_tokens,
        cost=r.cost,
    )
    return out


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("usage")(usage)
