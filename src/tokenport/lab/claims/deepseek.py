"""DeepSeek's 1 March 2025 cost disclosure, rebuilt from the cost model's own parts.

Inputs are what DeepSeek disclosed (token volumes, cache-hit share, per-node decode rate, R1
prices) plus the cost model's parts: the GPU-hour price (`data/gpus.toml`), the prefill speedup
(`data/assumptions.toml`: prefill throughput = decode throughput x speedup) and two stated
assumptions (`data/deepseek_2025_03.toml`). The disclosed outputs (node count, daily cost,
revenue, margin) are only ever compared with, never used to compute a result:

    node-hours  = (input / (decode x speedup) + output / decode) / 3600 / utilisation
    daily cost  = node-hours x GPUs per node x GPU-hour price
    $/Mtok      = costmodel.usd_per_mtok(GPUs per node, GPU-hour price, tokens/s, utilisation)
    uncached    = blended input / (1 - hit share x (1 - hit cost)); cached = hit cost x uncached
    margin      = revenue at R1 prices / daily cost - 1
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from tokenport.economics.costmodel import usd_per_mtok
from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import data_toml, fraction, positive, table, text
from tokenport.economics.settings import Economics, default_economics
from tokenport.lab.claims.prices import PACKAGE

DISCLOSURES = {"deepseek-2025-03": "deepseek_2025_03.toml"}
TOLERANCE = 0.05  # the reproduction must land within 5 % of each disclosed figure


class Row(msgspec.Struct, frozen=True):
    """One figure: as disclosed (or computed from disclosed figures alone), as reproduced."""

    figure: str
    unit: str
    disclosed: float
    reproduced: float
    error: float  # reproduced / disclosed - 1
    carried_by: str


class Reproduction(msgspec.Struct, frozen=True):
    name: str
    source: dict[str, str]
    rows: list[Row]
    assumptions: dict[str, str]
    sensitivity: list[str]
    within_tolerance: bool


class _Parts(NamedTuple):
    """Everything a run reads, so a sensitivity line can change one part and rerun."""

    gpu_hour: float
    speedup: float
    utilization: float
    hit_cost: float


class _Figures(NamedTuple):
    nodes: float
    decode_rate_from_nodes: float
    prefill_rate: float
    cost: float
    output: float
    blended_input: float
    uncached: float
    cached: float
    revenue: float
    margin: float


def figure_text(x: float) -> str:
    """A figure as the disclosure writes it: whole units when large, five digits otherwise."""
    return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:.5g}"


def reproduce(name: str = "deepseek-2025-03", economics: Economics | None = None) -> Reproduction:
    if name not in DISCLOSURES:
        raise CostInputError("reproduce", f"unknown disclosure {name!r}", sorted(DISCLOSURES))
    raw = data_toml(DISCLOSURES[name], PACKAGE)
    ins = {k: positive(f"disclosed.inputs.{k}", v) for k, v in _section(raw, "inputs").items()}
    out = {k: positive(f"disclosed.outputs.{k}", v) for k, v in _section(raw, "outputs").items()}
    assume = table("assumptions", raw["assumptions"])
    econ = economics or default_economics()
    gpu = text("assumptions.gpu", assume.get("gpu"))
    parts = _Parts(
        gpu_hour=econ.gpu(gpu).rental_usd_per_hour,
        speedup=econ.assumptions.prefill_speedup,
        utilization=fraction("assumptions.utilization", assume.get("utilization")),
        hit_cost=fraction("assumptions.cache_hit_cost", assume.get("cache_hit_cost")),
    )
    got = _run(ins, out["nodes"], parts)
    rows = _rows(ins, out, parts, got)
    return Reproduction(
        name=name,
        source={k: " ".join(str(v).split()) for k, v in table("source", raw["source"]).items()},
        rows=rows,
        assumptions=_assumptions(gpu, parts, assume, econ),
        sensitivity=_sensitivity(ins, out, parts, econ),
        within_tolerance=all(abs(r.error) <= TOLERANCE for r in rows),
    )


def disclosed_fleet(name: str = "deepseek-2025-03") -> dict[str, float]:
    """The disclosed fleet: average nodes, GPUs per node and the GPU-hour price DeepSeek used."""
    raw = data_toml(DISCLOSURES[name], PACKAGE)
    ins, out = _section(raw, "inputs"), _section(raw, "outputs")
    return {
        "nodes": positive("disclosed.outputs.nodes", out["nodes"]),
        "gpus_per_node": positive("disclosed.inputs.gpus_per_node", ins["gpus_per_node"]),
        "usd_per_gpu_hour": positive("disclosed.inputs.usd_per_gpu_hour", ins["usd_per_gpu_hour"]),
    }


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(table(f"disclosed.{name}", table("disclosed", raw["disclosed"])[name]))


def _run(ins: dict[str, float], disclosed_nodes: float, p: _Parts) -> _Figures:
    gpn, decode = ins["gpus_per_node"], ins["decode_tokens_per_s_per_node"]
    hit = ins["cache_hit_share"]
    prefill = decode * p.speedup
    node_hours = (ins["input_tokens"] / prefill + ins["output_tokens"] / decode) / 3600
    node_hours /= p.utilization
    blended = usd_per_mtok(gpn, p.gpu_hour, prefill, p.utilization)
    uncached = blended / (1 - hit * (1 - p.hit_cost))
    revenue = _revenue(ins)
    cost = node_hours * gpn * p.gpu_hour
    # The decode rate the disclosed node count implies, prefill tied to it by the speedup.
    tokens = ins["input_tokens"] / p.speedup + ins["output_tokens"]
    return _Figures(
        nodes=node_hours / 24,
        decode_rate_from_nodes=tokens / (disclosed_nodes * 86400 * p.utilization),
        prefill_rate=prefill,
        cost=cost,
        output=usd_per_mtok(gpn, p.gpu_hour, decode, p.utilization),
        blended_input=blended,
        uncached=uncached,
        cached=p.hit_cost * uncached,
        revenue=revenue,
        margin=revenue / cost - 1,
    )


def _revenue(ins: dict[str, float]) -> float:
    hit, tokens = ins["cache_hit_share"], ins["input_tokens"]
    billed_in = tokens * (hit * ins["price_cached_input"] + (1 - hit) * ins["price_input"])
    return (billed_in + ins["output_tokens"] * ins["price_output"]) / 1e6


def _implied(ins: dict[str, float], hit_cost: float) -> tuple[float, float, float, float]:
    """$/Mtok (output, blended input, uncached, cached) from the disclosed figures alone."""
    gpn, rate = ins["gpus_per_node"], ins["usd_per_gpu_hour"]
    blended = usd_per_mtok(gpn, rate, ins["prefill_tokens_per_s_per_node"], 1.0)
    uncached = blended / (1 - ins["cache_hit_share"] * (1 - hit_cost))
    output = usd_per_mtok(gpn, rate, ins["decode_tokens_per_s_per_node"], 1.0)
    return output, blended, uncached, hit_cost * uncached


def _rows(ins: dict[str, float], out: dict[str, float], p: _Parts, got: _Figures) -> list[Row]:
    output, blended, uncached, cached = _implied(ins, p.hit_cost)
    volumes = "token volumes, decode rate, prefill_speedup, utilisation"
    split = f"as input, split by cache_hit_cost {p.hit_cost:g} on both sides (not disclosed)"
    table_ = [
        ("nodes (24 h average)", "nodes", out["nodes"], got.nodes, volumes),
        ("decode rate from the node count", "tok/s per node",
         ins["decode_tokens_per_s_per_node"], got.decode_rate_from_nodes,
         "disclosed nodes and volumes, prefill_speedup, utilisation"),
        ("prefill rate (cache hits included)", "tok/s per node",
         ins["prefill_tokens_per_s_per_node"], got.prefill_rate,
         f"decode rate x prefill_speedup {p.speedup:g} (the cost model's assumption)"),
        ("daily cost", "USD/day", out["cost_usd_per_day"], got.cost,
         f"GPU-hour ${p.gpu_hour:g} (gpus.toml) x node-hours from {volumes}"),
        ("output", "USD/Mtok", output, got.output,
         "GPU-hour and the disclosed decode rate: the same inputs on both sides"),
        ("input, blended", "USD/Mtok", blended, got.blended_input,
         "GPU-hour, decode rate x prefill_speedup (disclosed side: the disclosed prefill rate)"),
        ("input, uncached", "USD/Mtok", uncached, got.uncached, split),
        ("input, cached", "USD/Mtok", cached, got.cached, split),
        ("revenue at R1 prices", "USD/day", out["revenue_usd_per_day"], got.revenue,
         "disclosed volumes, cache-hit share and R1 prices"),
        ("cost-profit margin", "%", out["cost_profit_margin"] * 100, got.margin * 100,
         "revenue / daily cost - 1: everything above"),
    ]  # fmt: skip
    return [Row(f, u, d, r, r / d - 1, why) for f, u, d, r, why in table_]


def _assumptions(gpu: str, p: _Parts, assume: Any, econ: Economics) -> dict[str, str]:
    why = econ.assumptions.why.get("prefill_speedup", "")
    return {
        "usd_per_gpu_hour": f"{p.gpu_hour:g}: {gpu} rental_usd_per_hour in data/gpus.toml"
        f" ({' '.join(econ.gpu(gpu).source.split())})",
        "prefill_speedup": f"{p.speedup:g}: {' '.join(why.split())}",
        "utilization": f"{p.utilization:g}: {' '.join(str(assume['utilization_why']).split())}",
        "cache_hit_cost": f"{p.hit_cost:g}: {' '.join(str(assume['cache_hit_cost_why']).split())}",
    }


def _sensitivity(
    ins: dict[str, float], out: dict[str, float], p: _Parts, econ: Economics
) -> list[str]:
    """What each assumption would do to the margin, the figure the press quoted."""
    nodes = out["nodes"]
    base = _run(ins, nodes, p)
    util = econ.assumptions.utilization
    cases = [
        (f"utilisation {util:g} (the cost model's default)", p._replace(utilization=util)),
        ("GPU-hour $1.70", p._replace(gpu_hour=1.7)),
        ("GPU-hour $2.40", p._replace(gpu_hour=2.4)),
        ("prefill_speedup 2.5", p._replace(speedup=2.5)),
        ("prefill_speedup 10", p._replace(speedup=10.0)),
    ]
    gpn, rate = ins["gpus_per_node"], ins["usd_per_gpu_hour"]
    lines = [
        f"disclosed cost check: {nodes:g} nodes x {gpn:g} GPUs x 24 h x ${rate:g}"
        f" = ${nodes * gpn * 24 * rate:,.0f}/day (disclosed ${out['cost_usd_per_day']:,.0f})"
    ]
    for label, parts in cases:
        run = _run(ins, nodes, parts)
        lines.append(
            f"{label}: daily cost ${run.cost:,.0f} ({run.cost / base.cost - 1:+.0%}),"
            f" margin {run.margin:.0%} (disclosed {out['cost_profit_margin']:.0%})"
        )
    return lines
