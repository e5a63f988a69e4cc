"""`tokenport router train` and `tokenport router eval`.

`register(app)` adds the `router` group to the main app. `eval --json` prints exactly one
JSON object on stdout and nothing else; progress and notes go to stderr.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tokenport.errors import ConfigError
from tokenport.lab.router.data import load_dataset, merge
from tokenport.lab.router.train import TrainConfig, train_router

router_app = typer.Typer(help="Train and evaluate the `model: auto` router.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `router` command group to `app`."""
    app.add_typer(router_app, name="router")


@router_app.command("train")
def train(
    data: Annotated[list[Path], typer.Option("--data", help="Routing JSONL file; repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the artifact (.npz).")],
    alpha: Annotated[
        float | None, typer.Option(help="Fixed ridge penalty; default: chosen on a holdout.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
    price: Annotated[
        list[str] | None,
        typer.Option(help="MODEL=IN/OUT: USD per million tokens, for files without cost_usd."),
    ] = None,
    no_code: Annotated[
        bool, typer.Option("--no-code", help="Do not run answers' Python (the code verifier).")
    ] = False,
) -> None:
    """Train a router on one or more routing files and write a versioned artifact. Where
    the files carry the models' answers, it holds a cascade too (`mode = "cascade"`)."""
    try:
        dataset = merge([load_dataset(p) for p in data])
        cfg = TrainConfig(alpha=alpha, seed=seed, prices=_prices(price or []), run_code=not no_code)
        with Console(stderr=True).status(f"Training on {len(dataset)} prompts..."):
            artifact = train_router(dataset, cfg)
        artifact.save(out)
    except (ConfigError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    meta = artifact.meta
    typer.echo(
        f"router {meta.router_version}: {len(meta.models)} models, {meta.n_train} prompts, "
        f"alpha {meta.alpha:g} -> {out}"
    )
    if meta.cascade is not None:
        c = meta.cascade
        typer.echo(
            f"cascade: {' -> '.join([*c.chain, c.strong])}, verifiers {', '.join(c.verifiers)}, "
            f"threshold {c.threshold:.4f} (pgr80)"
        )


@router_app.command("eval")
def eval_cmd(
    train_file: Annotated[Path, typer.Option("--train", help="Training JSONL file.")],
    test_file: Annotated[
        Path | None,
        typer.Option("--test", help="Held-out JSONL file; omitted or same as --train: k-fold CV."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of the metrics, nothing else.")
    ] = False,
    plot_dir: Annotated[
        Path | None,
        typer.Option(
            "--plot-dir",
            help='Write PNG charts here (needs matplotlib: pip install -e ".[plots]").',
        ),
    ] = None,
    folds: Annotated[int, typer.Option(help="Folds for cross-validation.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for folds and the random router.")] = 0,
    price: Annotated[
        list[str] | None,
        typer.Option(
            help="MODEL=IN/OUT: USD per million tokens, to price calls of a file without "
            "cost_usd (repeatable; the RouteLLM pair has defaults)."
        ),
    ] = None,
    no_code: Annotated[
        bool, typer.Option("--no-code", help="Do not run answers' Python (the code verifier).")
    ] = False,
) -> None:
    """Evaluate the shipped router (a cascade where the file has answers) against the
    prompt-only, TF-IDF and random baselines, every call counted."""
    from tokenport.lab.router.eval import evaluate

    if plot_dir is not None and importlib.util.find_spec("matplotlib") is None:
        # Checked before minutes of evaluation, not after.
        typer.echo(
            "error: --plot-dir draws PNGs with matplotlib, which is not installed: "
            'pip install -e ".[plots]" in your tokenport clone (or leave out --plot-dir; '
            "--json has every figure).",
            err=True,
        )
        raise typer.Exit(2)
    same = test_file is None or test_file.resolve() == train_file.resolve()
    try:
        prices = _prices(price or [])
        train_ds = load_dataset(train_file)
        test_ds = None if same else load_dataset(test_file)  # type: ignore[arg-type]
        what = "held-out test file" if test_ds is not None else f"{folds}-fold cross-validation"
        with Console(stderr=True).status(
            f"Evaluating the router and both baselines ({what}, {len(train_ds)} prompts)..."
        ):
            report = evaluate(
                train_ds,
                test_ds,
                folds=folds,
                seed=seed,
                plot_dir=plot_dir,
                prices=prices,
                cfg=TrainConfig(seed=seed, run_code=not no_code),
            )
    except (ConfigError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
        return
    _print_report(report)


def _prices(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items:
        model, _, pair = item.rpartition("=")
        a, _, b = pair.partition("/")
        try:
            out[model] = (float(a), float(b))
        except ValueError as exc:
            raise ValueError(f"--price {item!r}: expected MODEL=IN/OUT, e.g. gpt-4=10/30") from exc
        if not model:
            raise ValueError(f"--price {item!r}: expected MODEL=IN/OUT, e.g. gpt-4=10/30")
    return out


def _print_report(report: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]{report['dataset']}[/bold]: {report['mode']}, {report['n_scored']} scored"
    )
    if "routellm" in report:
        section = report["routellm"]
        table = Table("router", "APGR", "CPT(20%)", "CPT(50%)", "CPT(80%)", "cost at CPT(50%)")
        for name, r in section["routers"].items():
            cpt = r["cpt"]
            share = r.get("total_cost_share_at_cpt50")
            table.add_row(
                name,
                f"{r['apgr']:.3f}",
                *(f"{cpt[k]:.1f}%" for k in cpt),
                "-" if share is None else f"{share:.1%} of always-strong",
            )
        console.print(table)
        console.print(f"targets: {section['targets']}")
    if "routerbench" in report:
        section = report["routerbench"]
        best = section["best_single"]
        console.print(f"best single: {best['model']} {best['quality']:.3f} at ${best['cost']:.6f}")
        table = Table(
            "router", "AIQ", "max quality", "at <=50% cost", "cost to match best", "share"
        )
        for name, r in section["routers"].items():
            match, share = r["cost_to_match_best"], r["match_cost_share"]
            half = r.get("quality_at_half_cost")
            table.add_row(
                name,
                f"{r['aiq']:.4f}",
                f"{r['max_quality']:.3f}",
                "-" if half is None else f"{half:.3f}",
                "never" if match is None else f"${match:.6f}",
                "-" if share is None else f"{share:.0%}",
            )
        console.print(table)
        console.print(f"targets: {section['targets']}")
    lat = report["latency"]
    console.print(f"decision latency: p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms")
    if "cascade" in lat:
        c = lat["cascade"]
        console.print(
            f"cascade overhead (model calls excluded): p50 {c['p50_ms']:.3f} ms, "
            f"p99 {c['p99_ms']:.3f} ms"
        )
    for path in report.get("plots", []):
        console.print(f"plot: {path}")
