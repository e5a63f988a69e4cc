"""`tokenport costs` and `tokenport economics {report,models,regions}`.

`register(app)` adds them to the main typer app. A `CostInputError` becomes one line on
stderr naming the field, and exit status 2, the usual status for a bad argument.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tokenport.economics.costmodel import (
    Basis,
    CostBreakdown,
    Deployment,
    PriceComparison,
    compare_list_prices,
    compare_regions,
    marginal_cost_per_mtok,
)
from tokenport.economics.errors import CostInputError
from tokenport.economics.listprices import catalog_prices, parse_price
from tokenport.economics.settings import Economics

Opt = typer.Option
OverridesOpt = Annotated[
    Path | None,
    Opt("--overrides", help="TOML: [regions.*], [gpus.*], [assumptions], [claims.*] (report)"),
]


def register(app: typer.Typer) -> None:
    app.command("costs")(costs)
    group = typer.Typer(help="Token economics: claim report, measured models, regions.")
    group.command("report")(report)
    group.command("models")(models)
    group.command("regions")(regions)
    group.command("energy")(energy)
    app.add_typer(group, name="economics")


def costs(
    model: Annotated[
        str | None, Opt(help="Measured model, e.g. Llama-3.1-70B (unless --reproduce)")
    ] = None,
    gpu: Annotated[str, Opt(help="GPU type: H100, B200")] = "H100",
    region: Annotated[str, Opt(help="Region id, see `tokenport economics regions`")] = "us-avg",
    gpus: Annotated[int | None, Opt(help="GPU count (default: fewest measured)")] = None,
    task: Annotated[str | None, Opt(help="Measured workload (default lm-arena-chat)")] = None,
    batch: Annotated[float | None, Opt(help="Concurrent sequences")] = None,
    load: Annotated[float | None, Opt(help="0..1 of the measured batch range")] = None,
    utilization: Annotated[float | None, Opt(help="Share of hours serving")] = None,
    usd_per_kwh: Annotated[float | None, Opt(help="Electricity price override")] = None,
    pue: Annotated[float | None, Opt(help="PUE override")] = None,
    host_overhead: Annotated[float | None, Opt(help="Host power / GPU power")] = None,
    hardware: Annotated[str | None, Opt(help="capex (default) or rental")] = None,
    capex: Annotated[float | None, Opt(help="USD per GPU, all-in")] = None,
    years: Annotated[float | None, Opt(help="Amortisation years")] = None,
    rental: Annotated[float | None, Opt(help="USD per GPU-hour (implies rental)")] = None,
    other_per_gpu_hour: Annotated[float | None, Opt(help="Non-power opex, USD/GPU-h")] = None,
    list_price: Annotated[
        list[str] | None, Opt("--list-price", help="LABEL=IN/OUT USD per Mtok; repeatable")
    ] = None,
    catalog: Annotated[str | None, Opt(help="Compare with catalog models matching this")] = None,
    all_regions: Annotated[
        bool, Opt("--all-regions", "--compare", help="Side-by-side table of every region")
    ] = False,
    as_json: Annotated[bool, Opt("--json", help="Print one JSON object")] = False,
    overrides: OverridesOpt = None,
    reproduce: Annotated[
        str | None, Opt(help="Rebuild a published cost disclosure: deepseek-2025-03")
    ] = None,
) -> None:
    """USD per million output and input tokens, split into energy, hardware and other."""

    def run(econ: Economics) -> None:
        if reproduce is not None:
            from tokenport.lab.claims.terminal import print_reproduction

            print_reproduction(reproduce, econ, as_json)
            return
        if model is None:
            raise CostInputError("model", "missing: give --model, or --reproduce deepseek-2025-03")
        if hardware not in (None, "capex", "rental"):
            raise CostInputError("hardware", f"unknown basis {hardware!r}", ["capex", "rental"])
        basis: Basis | None = "rental" if hardware == "rental" else "capex" if hardware else None
        deployment = Deployment(
            model=model, gpu=gpu, region=region, gpu_count=gpus, task=task, hardware=basis,
            usd_per_kwh=usd_per_kwh, pue=pue, capex_usd_per_gpu=capex, amortization_years=years,
            rental_usd_per_gpu_hour=rental, utilization=utilization, host_overhead=host_overhead,
            other_usd_per_gpu_hour=other_per_gpu_hour,
        )  # fmt: skip
        if all_regions:
            rows = compare_regions(deployment, batch_size=batch, load=load, economics=econ)
            _print_regions(rows, as_json)
            return
        cost = marginal_cost_per_mtok(deployment, batch_size=batch, load=load, economics=econ)
        prices = [parse_price(p) for p in list_price or []]
        prices += catalog_prices(catalog) if catalog else []
        _print_cost(cost, compare_list_prices(cost, prices), as_json)

    _guarded(run, overrides)


def report(
    out: Annotated[Path | None, Opt(help="HTML file to write")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the results as JSON")] = False,
    overrides: OverridesOpt = None,
) -> None:
    """Test the articles' claims against the model and data; write an HTML report."""

    def run(econ: Economics) -> None:
        from tokenport.lab.claims.claim import load_claims
        from tokenport.lab.claims.page import build_report, render_html, report_json
        from tokenport.lab.claims.terminal import print_report

        claim_overrides = (_read_overrides(overrides) or {}).get("claims")
        result = build_report(econ, load_claims(claim_overrides))
        if as_json:
            typer.echo(report_json(result).decode())
        if out is not None or not as_json:
            path = out or Path("economics-report.html")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(render_html(result, econ), encoding="utf-8")
            except OSError as exc:
                raise CostInputError("out", f"cannot write {path}: {exc.strerror}") from None
            print_report(result, str(path), Console(stderr=as_json))

    _guarded(run, overrides)


def models(gpu: Annotated[str | None, Opt(help="Only this GPU")] = None) -> None:
    """Measured model/GPU configurations and their batch ranges."""
    econ = Economics.load()
    table = Table("model", "GPUs", "task", "precision", "batch range")
    for c in sorted(econ.energy.curves, key=lambda c: (c.name, c.gpu, c.gpu_count, c.task)):
        if gpu is None or c.gpu.lower() == gpu.lower():
            batches = f"{c.batch[0]:g}-{c.batch[-1]:g}"
            table.add_row(c.name, f"{c.gpu_count}x{c.gpu}", c.task, c.precision, batches)
    Console().print(table)


def regions(overrides: OverridesOpt = None) -> None:
    """Regions with electricity price, PUE and the source of each row."""

    def run(econ: Economics) -> None:
        table = Table("region", "USD/kWh", "local", "PUE", "kind", "name")
        for r in econ.regions.values():
            local = "" if r.price_local is None else f"{r.price_local:g} {r.currency}"
            table.add_row(r.id, f"{r.usd_per_kwh:.4f}", local, f"{r.pue:g}", r.source_kind, r.name)
        Console().print(table)

    _guarded(run, overrides)


def _guarded(run: Callable[[Economics], None], overrides: Path | None) -> None:
    try:
        sections = _read_overrides(overrides) or {}
        run(Economics.load({k: v for k, v in sections.items() if k != "claims"}))
    except CostInputError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(2) from None


def _read_overrides(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CostInputError("overrides", f"cannot read {path}: {exc}") from None
    section = data.get("economics", data)
    return section if isinstance(section, dict) else None


def _span(low: float, high: float) -> str:
    return f"{low:,.4g}" if low == high else f"{low:,.4g}-{high:,.4g}"


def _print_cost(cost: CostBreakdown, prices: list[PriceComparison], as_json: bool) -> None:
    if as_json:
        body = msgspec.to_builtins(cost)
        if prices:
            body["list_prices"] = msgspec.to_builtins(prices)
        typer.echo(msgspec.json.format(msgspec.json.encode(body)).decode())
        return
    console = Console()
    console.print(
        f"[bold]{cost.model_id}[/bold] on {cost.gpu_count}x{cost.gpu} in {cost.region}, batch"
        f" {cost.batch_size:g} ({cost.tokens_per_s:,.0f} tok/s), {cost.gpu_energy_j_per_token:.3g}"
        f" J/token GPU x host {cost.host_overhead:g} x PUE {cost.pue:g} ="
        f" {cost.facility_energy_j_per_token:.3g} J; ${cost.usd_per_kwh:.4f}/kWh;"
        f" {cost.hardware_basis} ${cost.gpu_hour_usd:.3f}/GPU-h; utilisation {cost.utilization:g}",
        highlight=False,
    )
    table = Table("USD per 1M tokens", "output", "input")
    for part in ("energy", "hardware", "other", "total"):
        table.add_row(part, f"{getattr(cost.output, part):.4f}", f"{getattr(cost.input, part):.4f}")
    console.print(table)
    console.print(f"energy share {cost.energy_share:.1%}", highlight=False)
    if prices:
        _print_prices(console, prices)
    console.print(
        f"input tokens = output cost / prefill_speedup {cost.prefill_speedup:g} (prefill runs"
        " several times faster than decode; an assumption, not a measurement)",
        highlight=False,
    )
    if cost.assumptions:
        used = ", ".join(note.split(":", 1)[0] for note in cost.assumptions)
        console.print(f"[dim]defaults used (reasons in --json): {used}[/dim]", highlight=False)


def _print_prices(console: Console, prices: list[PriceComparison]) -> None:
    table = Table("list price", "in / out", "cost in / out", "markup (out)", "")
    for p in prices:
        table.add_row(
            p.label, f"{p.list_input:g} / {p.list_output:g}",
            f"{p.cost_input:.3f} / {p.cost_output:.3f}", f"{p.markup_output:.2f}x", p.verdict,
        )  # fmt: skip
    console.print(table)


def _print_regions(rows: list[CostBreakdown], as_json: bool) -> None:
    if as_json:
        typer.echo(msgspec.json.format(msgspec.json.encode({"regions": rows})).decode())
        return
    first = rows[0]
    table = Table(
        title=f"{first.model_id} on {first.gpu_count}x{first.gpu}, batch {first.batch_size:g}:"
        " USD per 1M tokens",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("region", no_wrap=True)
    for header in ("$/kWh", "PUE", "energy", "hardware", "other", "out", "in", "energy%"):
        table.add_column(header, justify="right", no_wrap=True)
    for c in rows:
        table.add_row(
            c.region, f"{c.usd_per_kwh:.4f}", f"{c.pue:g}", f"{c.output.energy:.4f}",
            f"{c.output.hardware:.4f}", f"{c.output.other:.4f}", f"{c.output.total:.4f}",
            f"{c.input.total:.4f}", f"{c.energy_share:.1%}",
        )  # fmt: skip
    Console().print(table)


def energy(
    days: Annotated[int, Opt(help="How many days back.", min=1)] = 7,
    config: Annotated[Path | None, Opt("--config", "-c", help="TOML config file.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON only.")] = False,
) -> None:
    """Energy spent by self-hosted deployments, by region, with the carbon-free share."""
    import time

    from tokenport.config import load_settings
    from tokenport.economics.energy_report import ProviderEnergy, by_region
    from tokenport.errors import TokenportError
    from tokenport.ledger.store import open_store

    console = Console()
    try:
        settings = load_settings(config)
        store = open_store(settings.ledger_url())
        store.migrate()
        now = time.time()
        rows = store.usage_report(now - days * 86400, now, ["provider"])
        store.close()
    except TokenportError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    deployments = {
        name: (p.deployment.region, p.deployment.usd_per_kwh)
        for name, p in settings.providers.items()
        if p.deployment is not None
    }
    usage = [
        ProviderEnergy(r.provider or "", r.requests, r.completion_tokens, r.energy_wh) for r in rows
    ]
    from tokenport.economics.settings import economics_of

    result = by_region(usage, deployments, economics_of(settings).regions)
    if as_json:
        print(msgspec.json.encode(result).decode())
        return
    if not result:
        console.print(
            f"No energy recorded in the last {days} day(s): only self-hosted providers "
            "with a `deployment` in the config record energy."
        )
        return
    t = Table(
        "region",
        "providers",
        "requests",
        "kWh",
        "$/kWh",
        "energy $",
        "carbon-free",
        "carbon-free kWh",
        "Wh / 1k tokens",
        title=f"Energy by region, last {days} day(s)",
    )
    for r in result:
        share = "-" if r.carbon_free_share is None else f"{r.carbon_free_share:.0%}"
        t.add_row(
            r.region,
            ",".join(r.providers),
            f"{r.requests:,}",
            f"{r.kwh:.4f}",
            f"{r.usd_per_kwh:.4f}",
            f"{r.energy_cost_usd:.6f}",
            share,
            "-" if r.carbon_free_kwh is None else f"{r.carbon_free_kwh:.4f}",
            "-" if r.wh_per_1k_tokens is None else f"{r.wh_per_1k_tokens:.2f}",
        )
    console.print(t)
