"""`tokenport simulate`: weeks of calibrated traffic through a real gateway (the lab wing).

`register(app)` adds the command; the runtime never imports this package.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tokenport.abusescan.report import AccountVerdict, Report
from tokenport.cli.analytics import ConfigOpt, Opt, _catalog, _fail, _settings
from tokenport.errors import ConfigError, TokenportError

if TYPE_CHECKING:
    from tokenport.lab.simulate import SimResult


def register(app: typer.Typer) -> None:
    from tokenport.cli.abuse import abuse_app

    app.command("simulate")(simulate)
    abuse_app.command("simulate")(abuse_simulate)
    abuse_app.command("evaluate")(abuse_evaluate)


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


# -- tokenport abuse simulate / evaluate ------------------------------------------------


def abuse_simulate(
    scenario: Annotated[
        str,
        Opt(
            help="A shipped abuse scenario (hydra-2026, full size; hydra-ci, the same at the "
            "size of a CI run, under a minute) or a .toml"
        ),
    ] = "hydra-2026",
    scale: Annotated[float | None, Opt(help="Multiply every count (accounts, requests)")] = None,
    seed: Annotated[int | None, Opt(help="Planner seed (default: the scenario's)")] = None,
    concurrency: Annotated[int, Opt(help="Requests in flight")] = 32,
    database_url: Annotated[
        str | None, Opt("--database-url", help="Ledger to fill (default: a fresh scratch one)")
    ] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the outcome as JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Send an abuse scenario (campaigns hidden among honest users) through a real gateway,
    scan the ledger, and score the scan against the scenario's truth."""
    from tokenport.lab import abuse_sim, abuse_traffic

    settings = _settings(config)
    try:
        s = abuse_traffic.load(scenario)
    except ConfigError as exc:
        raise _fail(exc.message) from None
    if scale is not None:
        s = msgspec.structs.replace(s, scenario=msgspec.structs.replace(s.scenario, scale=scale))
    work = settings.data_dir / "simulations" / f"{s.scenario.name}-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    url = database_url or f"sqlite:///{work / 'ledger.db'}"
    console = Console(stderr=True)

    def progress(phase: str, done: int, total: int) -> None:
        console.print(f"{phase}: {done:,}/{total:,}", highlight=False)

    opts = abuse_sim.Options(s, url, work, seed, concurrency)
    try:
        out = abuse_sim.run(opts, _catalog(settings), progress)
    except TokenportError as exc:
        raise _fail(exc.message, 1) from None
    if as_json:
        typer.echo(msgspec.json.format(msgspec.json.encode(out)).decode())
        return
    m = out.metrics
    Console().print(
        f"{out.requests:,} requests ({out.failed} failed) from {out.accounts:,} keys in "
        f"{out.send_s:.0f}s; scan {out.scan_s:.1f}s\n"
        f"recall {m.recall:.1%} of {m.campaign_accounts} campaign accounts, false positives "
        f"{m.false_positive_rate:.2%} of {m.normal_accounts} honest ones\n"
        f"ledger: {out.database_url}\ntruth: {out.truth}\n"
        f"rescan: tokenport abuse scan --database-url {out.database_url} --json",
        highlight=False,
        soft_wrap=True,
    )


def abuse_evaluate(
    truth: Annotated[Path, Opt(help="truth.json written by `tokenport abuse simulate`")],
    report: Annotated[Path, Opt(help="The JSON `tokenport abuse scan --json` printed")],
) -> None:
    """Recall and false-positive rate of a scan's verdicts against a simulation's truth."""
    from tokenport.lab.abuse_eval import evaluate
    from tokenport.lab.abuse_traffic import Account

    try:
        known = json.loads(truth.read_text())
        got = msgspec.json.decode(report.read_bytes())
    except (OSError, ValueError, msgspec.DecodeError) as exc:
        raise _fail(f"Cannot read the inputs: {exc}") from None
    accounts = [AccountVerdict(**{"reasons": [], **a}) for a in got["accounts"]]
    m = evaluate(
        Report(accounts, []),
        [Account(**v) for v in known.values()],
        list(known),
    )
    table = Table("measure", "value")
    for field in msgspec.structs.fields(m):
        table.add_row(field.name, str(getattr(m, field.name)))
    Console().print(table)
