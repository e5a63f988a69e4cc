"""Terminal tables: the claim report (`economics report`) and a disclosure reproduction
(`costs --reproduce`). HTML and JSON are `page.py`'s."""

from __future__ import annotations

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tokenport.economics.settings import Economics
from tokenport.lab.claims.deepseek import TOLERANCE, figure_text, reproduce
from tokenport.lab.claims.page import Report, claimed_text, flips_text


def print_reproduction(name: str, econ: Economics, as_json: bool) -> None:
    result = reproduce(name, econ)
    if as_json:
        typer.echo(msgspec.json.format(msgspec.json.encode(result)).decode())
        return
    console = Console()
    src = result.source
    console.print(
        f"[bold]{src['title']}[/bold], {src['publisher']}, {src['published']} ({src['window']})",
        highlight=False,
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("figure")
    table.add_column("unit")
    for header in ("disclosed", "reproduced", "error"):
        table.add_column(header, justify="right", no_wrap=True)
    for r in result.rows:
        table.add_row(
            r.figure, r.unit, figure_text(r.disclosed), figure_text(r.reproduced), f"{r.error:+.2%}"
        )
    console.print(table)
    console.print("[bold]what carries each figure[/bold]")
    for r in result.rows:
        console.print(f"  {r.figure}: {r.carried_by}", highlight=False)
    verdict = "within" if result.within_tolerance else "NOT within"
    console.print(f"every figure {verdict} {TOLERANCE:.0%} of the disclosure", highlight=False)
    console.print("[bold]assumptions[/bold]")
    for key, why in result.assumptions.items():
        console.print(f"  {key} = {why}", highlight=False)
    console.print("[bold]sensitivity[/bold]")
    for line in result.sensitivity:
        console.print(f"  {line}", highlight=False)
    console.print(f"source: {src['url']}", highlight=False, soft_wrap=True)


def print_report(report: Report, path: str, console: Console) -> None:
    """Each claim in its own words, with units, verdict and what would flip it; then where the
    HTML page went and how to choose it."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=False)
    table.add_column("claim (as the articles put it)", ratio=3)
    table.add_column("claimed", justify="right", no_wrap=True)
    table.add_column("data", justify="right", no_wrap=True)
    table.add_column("unit", ratio=1)
    table.add_column("verdict", no_wrap=True)
    for r in report.claims:
        mark = "" if r.independent else " *"
        data = _span(r.data_low, r.data_high)
        table.add_row(r.title, claimed_text(r, _short), data, r.unit, r.verdict + mark)
    console.print(table)
    console.print(
        "* the data side rests on an estimate or on the articles themselves: a weak verdict",
        highlight=False,
    )
    console.print("[bold]what would flip each verdict[/bold]")
    for r in report.claims:
        console.print(f"  {r.id}: {flips_text(r)}", highlight=False)
    rep = report.reproduction
    worst = max(rep.rows, key=lambda row: abs(row.error))
    console.print(
        f"DeepSeek's 2025-03 disclosure reproduced: worst error {worst.error:+.2%}"
        f" ({worst.figure}); `tokenport costs --reproduce {rep.name}` for the table.",
        highlight=False,
    )
    console.print(
        f"wrote {path}: every claim's arithmetic, sources and charts (--out PATH to choose"
        " where; --json for the data)",
        highlight=False,
        soft_wrap=True,
    )


def _short(x: float) -> str:
    return f"{x:,.4g}"


def _span(low: float, high: float) -> str:
    return _short(low) if _short(low) == _short(high) else f"{_short(low)}-{_short(high)}"
