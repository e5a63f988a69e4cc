"""`tokenport simulate`: weeks of calibrated traffic through a real gateway (the lab wing).

`register(app)` adds the command; the runtime never imports this package.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tokenport.analytics.cli import ConfigOpt, Opt, _catalog, _fail, _settings
from tokenport.errors import ConfigError, TokenportError

if TYPE_CHECKING:
    from tokenport.lab.simulate import SimResult


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def simulate(
    scenario: Annotated[str, Opt(help="A shipped scenario (feb-2026) or a .toml file")],
    requests: Annotated[int | None, Opt(help="Requests to send (default: the scenario's)")] = None,
    users: Annotated[int | None, Opt(help="Keys to create (default: the scenario's)")] = None,
    concurrency: Annotated[int, Opt(help="Requests in flight")] = 32,
    seed: Annotated[int | None, Opt(help="Planner seed (default: the scenario's)")] = None,
    time_scale: Annotated[float | None, Opt(help="Multiply simulated latencies by this")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the result as JSON")] = False,
    database_url: Annotated[
        str | None,
        Opt("--database-url", help="Ledger to fill (default: a fresh scratch SQLite file)"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Drive scenario traffic through a real in-process gateway to fake upstreams, then check
    that the rankings reproduce the scenario."""
    from tokenport.lab import scenario as scenarios
    from tokenport.lab import simulate as sim

    settings = _settings(config)
    try:
        s = scenarios.load(scenario)
    except ConfigError as exc:
        raise _fail(exc.message) from None
    if database_url is None:
        url, work = sim.scratch_url(settings.data_dir, s.scenario.name)
    else:
        # Its own journal folder, so the gateway cannot adopt another process's journal.
        work = settings.data_dir / "simulations" / f"{s.scenario.name}-{os.getpid()}"
        url = database_url
    opts = sim.Options(s, url, work, requests, users, concurrency, seed, time_scale)
    console = Console(stderr=as_json)
    with _progress(console) as update:
        try:
            result = sim.run(opts, _catalog(settings), update)
        except TokenportError as exc:
            raise _fail(exc.message, 1) from None
    if as_json:
        typer.echo(msgspec.json.format(msgspec.json.encode(result)).decode())
    else:
        _print_sim(console, result)
    if not result.check.ok:
        raise typer.Exit(1)


class _progress:
    """A rich progress bar for the two phases: requests, then the ledger draining."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"), TimeRemainingColumn(), console=console,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Callable[[str, int, int, int], None]:
        self.bar.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, phase: str, done: int, total: int, failed: int) -> None:
        if phase not in self.tasks:
            label = "sending requests" if phase == "requests" else "writing the ledger"
            self.tasks[phase] = self.bar.add_task(label, total=total, extra="")
        rate = ""
        if phase == "requests":
            elapsed = self.bar.tasks[self.tasks[phase]].elapsed or 0.0
            rate = f"{done / elapsed:,.0f} req/s, {failed} failed" if elapsed else ""
        self.bar.update(self.tasks[phase], completed=done, total=total, extra=rate)


def _print_sim(console: Console, r: SimResult) -> None:
    console.print(
        f"sent {r.requests:,} requests in {r.elapsed_s:.1f}s ({r.requests_per_s:,.0f}/s): "
        f"{r.ok:,} ok, {r.failed:,} failed (scripted provider failures)",
        highlight=False,
    )
    table = Table("check", "expected", "measured", "tolerance", "", title="Scenario vs rankings")
    for row in r.check.rows:
        shown = "{:+.1%}" if row.relative else "{:.2%}"
        measured = "missing" if row.measured is None else shown.format(row.measured)
        expected = shown.format(row.expected)
        tol = f"±{row.tolerance:.0%} rel" if row.relative else f"±{row.tolerance * 100:.1f}pp"
        table.add_row(row.metric, expected, measured, tol, "[green]ok" if row.ok else "[red]FAIL")
    console.print(table)
    claims = Table("published claim", "published", "this run", title="The articles' figures")
    for c in r.check.claims:
        shown = "{:.2f}" if abs(c.published) > 2 else "{:.1%}"
        got = "-" if c.measured is None else shown.format(c.measured)
        claims.add_row(c.claim, shown.format(c.published), got)
    console.print(claims)
    verdict = "[green]check passed" if r.check.ok else "[red]check FAILED"
    console.print(f"{verdict}: {r.check.passed}/{r.check.passed + r.check.failed} within tolerance")
    console.print(
        f"See it: tokenport rankings --database-url {r.database_url}",
        highlight=False,
        soft_wrap=True,
    )
    # The dashboard reads the ledger of the gateway that serves it, and the simulation's
    # ledger is a scratch one: serve it (the local model is not needed for that).
    console.print(
        f"On the dashboard: tokenport serve --no-local --port 8001 --database-url "
        f"{r.database_url}\n  then open http://127.0.0.1:8001/dashboard",
        highlight=False,
        soft_wrap=True,
    )
