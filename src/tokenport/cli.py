"""The `tokenport` command. Each area registers its own subcommands; this file only wires."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tokenport.config import Settings, load_settings
from tokenport.errors import ConfigError, ServiceUnavailable, TokenportError

app = typer.Typer(
    help="tokenport: a self-hosted token exchange. One OpenAI-compatible API over every LLM "
    "provider, priced and metered.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (default: $TOKENPORT_CONFIG or ./tokenport.toml)."
    ),
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    no_local: Annotated[
        bool, typer.Option("--no-local", help="Do not start the local model.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the gateway (and the embedded local model) until interrupted."""
    import uvicorn

    from tokenport.api.app import LOCAL_URL_ENV
    from tokenport.providers.local import LocalModelSupervisor

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    s = _settings(config)
    _preflight(s)
    if config is not None:
        os.environ["TOKENPORT_CONFIG"] = str(config.resolve())
    supervisor = None
    if s.local.enabled and not no_local:
        supervisor = LocalModelSupervisor(s.local, s.data_dir / "logs" / "local-model.log")
        try:
            with console.status("Starting the local model (llama.cpp)..."):
                os.environ[LOCAL_URL_ENV] = supervisor.start()
        except (ConfigError, ServiceUnavailable) as exc:
            supervisor.stop()
            err.print(f"[red]Local model failed to start[/red]: {exc.message}")
            raise typer.Exit(1) from exc
    else:
        os.environ["TOKENPORT_LOCAL_MODEL"] = "0"
    h, p = host or s.host, port if port is not None else s.port
    console.print(f"tokenport listening on http://{h}:{p}  (ledger: {s.ledger_url()})")
    try:
        uvicorn.run(
            "tokenport.api.app:app_factory",
            factory=True,
            host=h,
            port=p,
            workers=workers or s.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level=log_level,
            timeout_graceful_shutdown=10,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


def _preflight(s: Settings) -> None:
    """Reach the database and apply migrations once, before any worker starts, so a bad URL or
    a database that is down is one clear line rather than a traceback from every worker."""
    from tokenport.analytics import rollups
    from tokenport.ledger.store import open_store
    from tokenport.providers.registry import build_registry
    from tokenport.security.keystore import KeyStore

    try:
        build_registry(s, os.environ, None)  # providers, deployments and [economics] overrides
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc
    try:
        s.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(s.ledger_url())
        store.migrate()
        store.close()
        keys = KeyStore(s.ledger_url())
        keys.migrate()
        keys.close()
        rollups.ensure(s.ledger_url())
    except TokenportError as exc:
        err.print(f"[red]Cannot start: the ledger database is unavailable.[/red]\n{exc.message}")
        raise typer.Exit(1) from exc
    except OSError as exc:
        err.print(f"[red]Cannot start: the data directory {s.data_dir} is not usable:[/red] {exc}")
        raise typer.Exit(1) from exc


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate the config file and show which providers are usable."""
    from tokenport.providers.registry import build_registry

    s = _settings(config)
    try:
        reg = build_registry(s, os.environ, local_base_url="http://127.0.0.1:0")
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc
    table = Table("provider", "protocol", "base url", "status")
    for name, spec in sorted(reg.specs.items()):
        st = reg.states[name]
        status = (
            "[green]available[/green]"
            if st.available
            else (f"[yellow]unavailable: set {st.missing_key_env}[/yellow]")
        )
        table.add_row(name, spec.protocol, spec.base_url, status)
    console.print(table)
    console.print(
        f"[green]Configuration OK[/green] ({len(reg.providers)} usable providers; "
        f"ledger {s.ledger_url()})"
    )


def _register_areas() -> None:
    from tokenport.analytics.cli import register as analytics_commands
    from tokenport.catalog.cli import register as catalog_commands
    from tokenport.economics.cli import register as economics_commands
    from tokenport.routing.auto.cli import register as router_commands
    from tokenport.security.cli import register as security_commands

    catalog_commands(app)
    economics_commands(app)
    security_commands(app)
    router_commands(app)
    analytics_commands(app)


def main() -> None:
    _register_areas()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
