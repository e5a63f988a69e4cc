"""Checkers for the power claims: the green-power saving and its GPUs, PUE, training energy.

Each returns the data range in the claim's unit and its arithmetic line by line, inputs named,
as `checks.py`'s do; the sensitivity knobs are listed with each claim in `data/claims.toml`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tokenport.economics.costmodel import HOURS_PER_YEAR, Deployment, marginal_cost_per_mtok
from tokenport.economics.errors import CostInputError
from tokenport.economics.gpus import GpuSpec
from tokenport.economics.inputs import data_toml, positive, table, text
from tokenport.economics.regions import Region
from tokenport.economics.settings import Economics
from tokenport.lab.claims.claim import Checker, Claim, ClaimContext, Evidence, param, word
from tokenport.lab.claims.prices import PACKAGE


def green_saving(claim: Claim, ctx: ClaimContext) -> Evidence:
    """Share of a centre's GPU capex that `years` of the west-vs-US electricity saving pays."""
    econ = ctx.economics
    dear, cheap = econ.region(word(claim, "dear_region")), econ.region(word(claim, "cheap_region"))
    gpu = econ.gpu(word(claim, "gpu"))
    fx, years, draw = param(claim, "cny_per_usd"), param(claim, "years"), param(claim, "draw")
    host = econ.assumptions.host_overhead
    kwh = gpu.board_power_w / 1000 * host * draw * HOURS_PER_YEAR  # IT kWh per GPU-year
    deltas = _saving_per_kwh(dear, cheap)
    shares = [years * kwh * d / gpu.capex_usd for d in deltas]
    saving = param(claim, "saving_cny_per_year")
    gpus = [saving / (kwh * d * fx) for d in deltas]
    mw = [n * kwh / HOURS_PER_YEAR / 1000 for n in gpus]
    art = _article_share(claim, kwh, gpu.capex_usd * fx, years)
    return Evidence(
        data_low=min(shares),
        data_high=max(shares),
        arithmetic=[
            f"IT energy per GPU-year: {gpu.board_power_w:g} W ({gpu.id}) x host overhead {host:g}"
            f" x average draw {draw:g} of nameplate x {HOURS_PER_YEAR} h = {kwh:,.0f} kWh.",
            f"Saving per IT kWh: {dear.id} ${dear.usd_per_kwh_low:.4f}-${dear.usd_per_kwh_high:.4f}"
            f" x PUE {dear.pue:g} - {cheap.id} ${cheap.usd_per_kwh_low:.4f}-"
            f"${cheap.usd_per_kwh_high:.4f} x PUE {cheap.pue:g} ="
            f" ${deltas[0]:.4f}-${deltas[1]:.4f}.",
            f"CNY {saving / 1e6:g} M/yr at CNY {fx:g}/USD therefore implies a centre of"
            f" {gpus[1]:,.0f}-{gpus[0]:,.0f} {gpu.id}s ({mw[1]:.1f}-{mw[0]:.1f} MW of IT load).",
            f"{years:g} years of saving per GPU = ${years * kwh * deltas[0]:,.0f}-"
            f"${years * kwh * deltas[1]:,.0f}, against ${gpu.capex_usd:,.0f} capex per GPU"
            f" (data/gpus.toml, all-in) = {shares[0]:.1%}-{shares[1]:.1%} of the GPUs;"
            " the share does not depend on the centre's size.",
            art,
        ],
        sources=[
            f"data/regions.toml [{dear.id}], [{cheap.id}]",
            f"data/gpus.toml [{gpu.id}]",
            "data/assumptions.toml host_overhead",
        ],
        independent=dear.source_kind == cheap.source_kind == "independent",
    )


def _saving_per_kwh(dear: Region, cheap: Region) -> tuple[float, float]:
    """USD saved per IT kWh moved from `dear` to `cheap`: the least and the most (price ranges)."""
    low = dear.usd_per_kwh_low * dear.pue - cheap.usd_per_kwh_high * cheap.pue
    high = dear.usd_per_kwh_high * dear.pue - cheap.usd_per_kwh_low * cheap.pue
    if low <= 0:
        raise CostInputError("regions", f"{cheap.id} is not cheaper than {dear.id} at every price")
    return low, high


def _article_share(claim: Claim, kwh: float, capex_cny: float, years: float) -> str:
    """The same arithmetic on the articles' own prices and PUEs: where 15 % comes from."""
    us, west = param(claim, "article_us_cny"), param(claim, "article_west_cny")
    pue_us, pue_west = param(claim, "article_pue_us"), param(claim, "article_pue_west")
    delta = us * pue_us - west * pue_west
    share = years * kwh * delta / capex_cny
    return (
        f"On the articles' own figures (US {us:g} CNY/kWh at PUE {pue_us:g}, west {west:g} at"
        f" PUE {pue_west:g}): {delta:.3f} CNY saved per IT kWh, {share:.1%} of the GPUs in"
        f" {years:g} years; the 15 % follows from the articles' prices, not from the data's."
    )


def pue_level(claim: Claim, ctx: ClaimContext) -> Evidence:
    """A PUE claim against a best-practice figure and a region's PUE (a policy cap or survey)."""
    region = ctx.economics.region(word(claim, "region"))
    figures = [region.pue]
    lines = [f"{region.id}: PUE {region.pue:g} ({' '.join(region.pue_source.split())})."]
    if "best_pue" in claim.params:  # a best-practice figure widens the data range
        figures.append(param(claim, "best_pue"))
        lines.append(f"Best run fleets: PUE {figures[-1]:g} ({word(claim, 'best_source')}).")
    ref = marginal_cost_per_mtok(
        Deployment(model=word(claim, "model"), gpu=word(claim, "gpu"), region=region.id),
        economics=ctx.economics,
    )
    per_pue = ref.output.energy / ref.pue  # energy $/Mtok per unit of PUE
    alt = param(claim, "compare_pue")
    diff = per_pue * abs(ref.pue - alt)
    return Evidence(
        data_low=min(figures),
        data_high=max(figures),
        arithmetic=[
            *lines,
            f"What it is worth: {ref.model_id} on {ref.gpu_count}x{ref.gpu} in {region.id} pays"
            f" ${ref.output.energy:.4f}/Mtok output for energy at PUE {ref.pue:g}; PUE {alt:g}"
            f" instead moves that by ${diff:.4f}, {diff / ref.output.total:.1%} of the"
            f" ${ref.output.total:.3f}/Mtok total.",
        ],
        sources=[f"data/regions.toml [{region.id}] pue_source"]
        + ([word(claim, "best_source")] if "best_source" in claim.params else []),
    )


class TrainingRun(msgspec.Struct, frozen=True):
    """One published run's facility energy, GWh; low == high when it was published as energy."""

    model: str
    low_gwh: float
    high_gwh: float
    how: str
    source: str


def training_runs(econ: Economics) -> tuple[list[TrainingRun], str]:
    """The shipped runs costed in energy, and the line that says how GPU-hours were converted."""
    raw = data_toml("training_runs.toml", PACKAGE)
    pue = table("pue", raw["pue"])
    pue_low, pue_high = (positive(f"pue.{k}", pue[k]) for k in ("low", "high"))
    host = econ.assumptions.host_overhead
    runs = []
    for i, row in enumerate(raw.get("runs", [])):
        row = table(f"runs[{i}]", row)
        low, high, how = _run_energy(row, econ.gpu, host, (pue_low, pue_high))
        model = text(f"runs[{i}].model", row.get("model"))
        runs.append(TrainingRun(model, low, high, how, " ".join(str(row["source"]).split())))
    if not runs:
        raise CostInputError("training_runs.toml", "no runs")
    method = (
        f"GPU-hour runs: x rated board power x host overhead {host:g} x PUE {pue_low:g}"
        f" ({pue['low_source']}) to {pue_high:g} ({pue['high_source']})."
    )
    return runs, method


def training_energy(claim: Claim, ctx: ClaimContext) -> Evidence:
    """Facility energy of published training runs, in GWh."""
    runs, method = training_runs(ctx.economics)
    return Evidence(
        data_low=min(r.low_gwh for r in runs),
        data_high=max(r.high_gwh for r in runs),
        arithmetic=[*(f"{r.model}: {r.how}" for r in runs), method],
        sources=[r.source for r in runs],
    )


def _run_energy(
    run: Any, gpu_of: Callable[[str], GpuSpec], host: float, pue: tuple[float, float]
) -> tuple[float, float, str]:
    if "energy_mwh" in run:
        gwh = positive("energy_mwh", run["energy_mwh"]) / 1000
        return gwh, gwh, f"{gwh:.3g} GWh as published."
    hours = positive("gpu_hours", run.get("gpu_hours"))
    gpu = gpu_of(str(run.get("gpu")))
    gpu_gwh = hours * gpu.board_power_w / 1e9
    low, high = gpu_gwh * host * pue[0], gpu_gwh * host * pue[1]
    return (
        low,
        high,
        (
            f"{hours / 1e6:.3g}M {gpu.id} GPU-hours x {gpu.board_power_w:g} W = {gpu_gwh:.3g} GWh"
            f" of GPU energy -> {low:.3g}-{high:.3g} GWh at the facility."
        ),
    )


CHECKERS: dict[str, Checker] = {
    "green_saving": green_saving,
    "pue_level": pue_level,
    "training_energy": training_energy,
}
