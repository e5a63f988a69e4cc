"""The `tokenport` command. Each area registers its own subcommands; this file only wires."""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from tokenport.config import Settings, load_settings
from tokenport.errors import ConfigError, ServiceUnavailable, TokenportError

app = typer.Typer(
    help="tokenport: a self-hosted token exchange. One OpenAI-compatible API over every LLM "
    "provider, priced and metered.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help for every command: rich markup ate `[regions.*]`-style text, and
    # typer's rich panels show every flag as `<bool>`, as if it took a value.
    rich_markup_mode=None,
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


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"tokenport {version('tokenport')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """tokenport: a self-hosted token exchange. One OpenAI-compatible API over every LLM
    provider, priced and metered."""


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc


class _Terminated(Exception):
    """SIGTERM (systemd, Docker, kill): unwinds `serve` so the local model is stopped."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    no_local: Annotated[
        bool, typer.Option("--no-local", help="Do not start the local model.")
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Ledger database (sqlite:///path.db or postgresql://...); overrides the "
            "config and the environment.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the gateway (and the embedded local model) until interrupted."""
    from tokenport.api.app import LOCAL_URL_ENV
    from tokenport.db import parse_url
    from tokenport.providers.local import LocalModelSupervisor

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if database_url is not None:
        # The workers read their settings from the environment: this reaches them too.
        os.environ["TOKENPORT_DATABASE_URL"] = database_url
    s = _settings(config)
    _preflight(s)
    if config is not None:
        os.environ["TOKENPORT_CONFIG"] = str(config.resolve())
    h, p = host or s.host, port if port is not None else s.port
    # Bind before anything slow starts: a taken port fails here, in a second, not after the
    # local model has loaded and "listening" has been printed.
    sock = _bind(h, p)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    supervisor = None
    try:
        if s.local.enabled and not no_local:
            supervisor = LocalModelSupervisor(
                s.local, s.data_dir / "logs" / "local-model.log", s.data_dir / "local-model.pid"
            )
            try:
                with console.status("Starting the local model (llama.cpp)..."):
                    os.environ[LOCAL_URL_ENV] = supervisor.start()
            except (ConfigError, ServiceUnavailable) as exc:
                err.print(f"[red]Local model failed to start[/red]: {exc.message}")
                raise typer.Exit(1) from exc
        else:
            os.environ["TOKENPORT_LOCAL_MODEL"] = "0"
        ledger = parse_url(s.ledger_url()).where
        # soft_wrap: a log file or pipe gets one line, not a path broken at 80 columns.
        console.print(
            f"tokenport listening on http://{h}:{p}  (ledger: {ledger})",
            soft_wrap=True,
            highlight=False,
        )
        _run_uvicorn(s, sock, workers or s.workers, log_level)
    except _Terminated:
        console.print("tokenport stopped (SIGTERM)")
    finally:
        if supervisor is not None:
            supervisor.stop()
        sock.close()
        signal.signal(signal.SIGTERM, previous)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart need not wait out the old sockets' TIME_WAIT. It does not
    # let two servers listen on one port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            err.print(
                f"[red]Cannot start: port {port} on {host} is already in use[/red] (another "
                "tokenport or another server). Stop it, or choose a port with --port."
            )
        else:
            err.print(f"[red]Cannot listen on {host}:{port}:[/red] {exc.strerror or exc}")
        raise typer.Exit(1) from exc
    sock.set_inheritable(True)
    return sock


def _run_uvicorn(s: Settings, sock: socket.socket, workers: int, log_level: str) -> None:
    """uvicorn.run's own steps, on the socket already bound, with tokenport's connection
    limits (api/conn.py) on the Config that uvicorn hands to every worker."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from tokenport.api.conn import ConnectionLimits, GuardedConfig

    _metrics_across_workers(s, workers)
    config = GuardedConfig(
        "tokenport.api.app:app_factory",
        limits=ConnectionLimits(s.header_timeout_s, s.max_connections),
        factory=True,
        workers=workers,
        loop="uvloop",
        access_log=False,
        log_level=log_level,
        # A backstop only: the drain (api/drain.py) cuts requests cleanly after grace_s.
        timeout_graceful_shutdown=math.ceil(s.drain.grace_s) + 5,
        timeout_keep_alive=s.keepalive_timeout_s,
        # The client's address is read by `security/clientip.py` under `trusted_proxies`,
        # not by uvicorn (which would trust X-Forwarded-For from any local peer).
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return
    server.run(sockets=[sock])
    if not server.started:
        err.print("[red]The gateway failed to start[/red]; the reason is logged above.")
        raise typer.Exit(3)


def _metrics_across_workers(s: Settings, workers: int) -> None:
    """Workers share their metrics through files (telemetry/multiproc.py); this process,
    which serves no requests, serves them on `[metrics] port` when one is set."""
    if not s.metrics.enabled or workers < 2:
        return
    from tokenport.telemetry import multiproc

    multiproc.prepare_for(s.data_dir / "metrics", os.getpid())
    if s.metrics.port is not None:
        multiproc.serve_port(s.metrics.host, s.metrics.port)


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


# The local model's address before `serve` has started it (its port is chosen then).
_LOCAL_NOT_STARTED = "http://127.0.0.1:0"


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate the config file, reach the ledger database, and show which providers are
    usable. Exits 1 when the database cannot be reached, 2 for an invalid configuration."""
    from tokenport.db import parse_url
    from tokenport.providers.registry import build_registry

    s = _settings(config)
    try:
        reg = build_registry(s, os.environ, local_base_url=_LOCAL_NOT_STARTED)
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc.message}")
        raise typer.Exit(2) from exc
    table = Table("provider", "protocol", Column("base url", overflow="fold"), "status")
    for name, spec in sorted(reg.specs.items()):
        st = reg.states[name]
        status = (
            "[green]available[/green]"
            if st.available
            else (f"[yellow]unavailable: set {st.missing_key_env}[/yellow]")
        )
        where = spec.base_url
        if where.startswith(_LOCAL_NOT_STARTED):
            where = "a free loopback port, chosen by `serve`"
        table.add_row(name, spec.protocol, where, status)
    console.print(table)
    ledger = f"{parse_url(s.ledger_url()).where} (from {s.database_source})"
    problem = database_problem(s.ledger_url())
    if problem is not None:
        err.print(f"[red]The ledger database is not usable[/red]: {ledger}\n{problem}")
        raise typer.Exit(1)
    console.print(
        f"[green]Configuration OK[/green] ({len(reg.providers)} usable providers; "
        f"ledger {ledger}, reachable)"
    )


def database_problem(url: str) -> str | None:
    """Why the ledger at `url` cannot be used, or None. Reads only: creates nothing."""
    from tokenport.db import Database, parse_url

    try:
        parsed = parse_url(url)
    except ConfigError as exc:
        return exc.message
    if parsed.dialect == "sqlite":
        path = Path(parsed.target)
        if not path.exists():
            # A fresh ledger is created on first start: its nearest existing folder must
            # let us create it.
            folder = path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"{path} does not exist and cannot be created: {folder} is not writable."
            return None
        if not os.access(path, os.R_OK | os.W_OK):
            return f"{path} is not readable and writable by this user."
    db = Database(parsed, what="ledger database")
    try:
        db.rows("SELECT 1")
    except TokenportError as exc:
        return exc.message
    finally:
        db.close()
    return None


def _register_areas() -> None:
    from tokenport.cli.abuse import register as abuse_commands
    from tokenport.cli.analytics import register as analytics_commands
    from tokenport.cli.catalog import register as catalog_commands
    from tokenport.cli.economics import register as economics_commands
    from tokenport.cli.keys import register as security_commands
    from tokenport.cli.lab import register as lab_commands
    from tokenport.cli.router import register as router_commands

    catalog_commands(app)
    economics_commands(app)
    security_commands(app)
    abuse_commands(app)
    router_commands(app)
    analytics_commands(app)
    lab_commands(app)


def main() -> None:
    _register_areas()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
