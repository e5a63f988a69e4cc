"""One checker per claim kind, and `check_claims`, which runs them all.

Each checker returns the data range in the claim's own unit and the arithmetic, written out
line by line with its inputs, so a reader of the report can redo every step by hand.
"""

from __future__ import annotations

from tokenport.economics.costmodel import (
    HOURS_PER_YEAR,
    J_PER_KWH,
    CostBreakdown,
    Deployment,
    marginal_cost_per_mtok,
)
from tokenport.economics.energy import EnergyCurve
from tokenport.economics.errors import CostInputError
from tokenport.economics.regions import Region
from tokenport.economics.settings import Economics, default_economics
from tokenport.lab.claims import checks_market, checks_power
from tokenport.lab.claims.claim import (
    Checker,
    Claim,
    ClaimContext,
    ClaimResult,
    Evidence,
    load_claims,
    param,
    result,
    source_notes,
    word,
)
from tokenport.lab.claims.deepseek import disclosed_fleet
from tokenport.lab.claims.prices import ListPrice, by_label, shipped_list_prices
from tokenport.lab.claims.sensitivity import flips

ENERGY_SOURCE = "ML.ENERGY leaderboard v3 (data/ml_energy_llm.csv), GPU energy per output token"


def check_claims(
    economics: Economics | None = None,
    claims: list[Claim] | None = None,
    list_prices: list[ListPrice] | None = None,
) -> list[ClaimResult]:
    """Every claim's verdict under `economics` (default: the shipped data, no overrides)."""
    ctx = ClaimContext(
        economics=economics or default_economics(),
        list_prices=shipped_list_prices() if list_prices is None else list_prices,
    )
    notes = source_notes()
    out = []
    for claim in load_claims() if claims is None else claims:
        if claim.kind not in CHECKERS:
            raise CostInputError(f"claims.{claim.id}.kind", "no checker", sorted(CHECKERS))
        checker = CHECKERS[claim.kind]
        out.append(result(claim, checker(claim, ctx), notes, flips(claim, ctx, checker)))
    return out


def energy_per_token(claim: Claim, ctx: ClaimContext) -> Evidence:
    econ = ctx.economics
    host = econ.assumptions.host_overhead
    pue_low, pue_high = param(claim, "pue_low"), param(claim, "pue_high")
    lo_curve, lo_i = _extreme(econ, lowest=True)
    hi_curve, hi_i = _extreme(econ, lowest=False)
    e_lo, e_hi = lo_curve.energy[lo_i], hi_curve.energy[hi_i]
    j_lo, j_hi = e_lo * host * pue_low, e_hi * host * pue_high
    per_100 = 100 / J_PER_KWH
    ref = econ.energy.find(word(claim, "reference_model"), word(claim, "reference_gpu"))
    ref_points = ", ".join(
        f"{e:.3g} J at batch {b:.0f}" for b, e in zip(ref.batch, ref.energy, strict=True)
    )
    return Evidence(
        data_low=j_lo * per_100,
        data_high=j_hi * per_100,
        arithmetic=[
            f"Claimed: {claim.claimed_low:g}-{claim.claimed_high:g} kWh per 100 tokens"
            f" x 3.6e6 J/kWh / 100 = {claim.claimed_low * 36e3:,.0f}-"
            f"{claim.claimed_high * 36e3:,.0f} J per token.",
            f"Measured GPU energy over all {sum(len(c.batch) for c in econ.energy.curves)} points:"
            f" {e_lo:.4g} J ({lo_curve.label}, batch {lo_curve.batch[lo_i]:.0f}) to"
            f" {e_hi:.4g} J ({hi_curve.label}, batch {hi_curve.batch[hi_i]:.0f}).",
            f"Facility energy = GPU energy x host overhead {host:g} x PUE {pue_low:g}-{pue_high:g}"
            f" = {j_lo:.4g}-{j_hi:.4g} J per token"
            f" = {j_lo * per_100:.3g}-{j_hi * per_100:.3g} kWh per 100 tokens.",
            f"Reference {ref.label}: {ref_points}.",
        ],
        sources=[
            ENERGY_SOURCE,
            f"PUE range {pue_low:g}-{pue_high:g}: hyperscale to Uptime 2025 average",
        ],
    )


def electricity_share(claim: Claim, ctx: ClaimContext) -> Evidence:
    econ = ctx.economics
    model, gpu = word(claim, "model"), word(claim, "gpu")
    costs = [
        marginal_cost_per_mtok(Deployment(model=model, gpu=gpu, region=r), economics=econ)
        for r in econ.regions
    ]
    ref = costs[0]
    lines = [
        f"Reference: {ref.model_id} on {ref.gpu_count}x{gpu}, batch {ref.batch_size:g},"
        f" owner-operated (GPU-hour ${ref.gpu_hour_usd:.3f} + other"
        f" ${ref.other_usd_per_gpu_hour:g}), utilisation {ref.utilization:g}."
        " Share = energy / (energy + hardware + other) per Mtok output:"
    ]
    lines += [_share_line(c, claim.claimed_low) for c in costs]
    ds_share, ds_lines = _deepseek_share(claim, econ)
    shares = [c.energy_share for c in costs] + [ds_share]
    return Evidence(
        data_low=min(shares),
        data_high=max(shares),
        arithmetic=lines + ds_lines,
        sources=[
            ENERGY_SOURCE,
            "data/regions.toml, data/gpus.toml, data/assumptions.toml",
            "DeepSeek Feb 2025",
        ],
    )


def _share_line(c: CostBreakdown, target: float) -> str:
    # The price at which energy reaches `target` of cost: k*p / (k*p + F) = s, p = s*F / ((1-s)*k)
    kwh_per_mtok = c.facility_energy_j_per_token * 1e6 / J_PER_KWH
    fixed = c.output.hardware + c.output.other
    breakeven = target * fixed / ((1 - target) * kwh_per_mtok)
    return (
        f"  {c.region}: {kwh_per_mtok:.3g} kWh/Mtok x ${c.usd_per_kwh:.4f}/kWh"
        f" = ${c.output.energy:.4f}; / ${c.output.total:.3f} total = {c.energy_share:.1%}."
        f" A {target:.0%} share needs ${breakeven:.2f}/kWh"
        f" ({breakeven / c.usd_per_kwh:.0f}x this price)."
    )


def _deepseek_share(claim: Claim, econ: Economics) -> tuple[float, list[str]]:
    # The fleet as DeepSeek disclosed it (data/deepseek_2025_03.toml); a claim param overrides.
    fleet = disclosed_fleet()
    nodes, per_node, rate = (
        param(claim, f"deepseek_{k}") if f"deepseek_{k}" in claim.params else fleet[k]
        for k in ("nodes", "gpus_per_node", "usd_per_gpu_hour")
    )
    node_kw = param(claim, "deepseek_node_kw")
    region = econ.region(word(claim, "deepseek_region"))
    gpu_day = nodes * per_node * 24 * rate
    kwh_day = nodes * node_kw * 24 * region.pue
    power_day = kwh_day * region.usd_per_kwh
    share = power_day / (power_day + gpu_day)
    return share, [
        f"DeepSeek cross-check: GPU cost {nodes:g} nodes x {per_node:g} GPUs x 24 h x ${rate:g}"
        f" = ${gpu_day:,.0f}/day; power at most {nodes:g} x {node_kw:g} kW x 24 h"
        f" x PUE {region.pue:g} = {kwh_day:,.0f} kWh x ${region.usd_per_kwh:.4f} ({region.id})"
        f" = ${power_day:,.0f}/day;"
        f" electricity share {share:.1%}."
    ]


def price_gap(claim: Claim, ctx: ClaimContext) -> Evidence:
    premium = by_label(ctx.list_prices, word(claim, "premium"))
    cheap = [by_label(ctx.list_prices, str(label)) for label in claim.params.get("cheap", [])]
    if not cheap:
        raise CostInputError(
            f"claims.{claim.id}.params.cheap", "needs at least one list price label"
        )
    weights = [p.volume_t or 1.0 for p in cheap]
    w_in = sum(p.input * w for p, w in zip(cheap, weights, strict=True)) / sum(weights)
    w_out = sum(p.output * w for p, w in zip(cheap, weights, strict=True)) / sum(weights)
    gaps = (premium.input / w_in, premium.output / w_out)
    mix = " + ".join(
        f"{p.label} ${p.input:g}/${p.output:g} x {w:g}T"
        for p, w in zip(cheap, weights, strict=True)
    )
    return Evidence(
        data_low=min(gaps),
        data_high=max(gaps),
        arithmetic=[
            _article_ratios(claim),
            "Chinese list price weighted by Feb 2026 OpenRouter tokens (in/out per Mtok):"
            f" {mix} -> ${w_in:.3f} / ${w_out:.3f}.",
            f"{premium.label} ${premium.input:g} / ${w_in:.3f} = {gaps[0]:.1f}x on input;"
            f" ${premium.output:g} / ${w_out:.3f} = {gaps[1]:.1f}x on output.",
        ],
        sources=["models.dev list prices (data/claims.toml [[list_prices]])"],
    )


def _article_ratios(claim: Claim) -> str:
    """The ratios the articles' own price ranges imply, to show where 16.7x comes from."""
    p_in, p_out = (param(claim, f"article_premium_{k}") for k in ("input", "output"))
    lo_in, hi_in = (param(claim, f"article_cheap_input_{k}") for k in ("low", "high"))
    lo_out, hi_out = (param(claim, f"article_cheap_output_{k}") for k in ("low", "high"))
    return (
        f"The articles' own prices: ${p_in:g} / ${hi_in:g}-${lo_in:g}"
        f" = {p_in / hi_in:.1f}-{p_in / lo_in:.1f}x on input; ${p_out:g} / ${hi_out:g}-${lo_out:g}"
        f" = {p_out / hi_out:.1f}-{p_out / lo_out:.1f}x on output."
    )


def price_gap_electricity(claim: Claim, ctx: ClaimContext) -> Evidence:
    econ = ctx.economics
    model, gpu = word(claim, "model"), word(claim, "gpu")
    cheap = marginal_cost_per_mtok(
        Deployment(model=model, gpu=gpu, region=word(claim, "cheap_region")), economics=econ
    )
    dear = [
        marginal_cost_per_mtok(Deployment(model=model, gpu=gpu, region=str(r)), economics=econ)
        for r in claim.params.get("dear_regions", [])
    ]
    if not dear:
        raise CostInputError(f"claims.{claim.id}.params.dear_regions", "needs at least one region")
    ratios = [d.output.total / cheap.output.total for d in dear]
    premium = by_label(ctx.list_prices, word(claim, "premium"))
    low = by_label(ctx.list_prices, word(claim, "cheap"))
    price_diff = premium.output - low.output
    lines = [
        f"Same model ({cheap.model_id}, {cheap.gpu_count}x{gpu}), same hardware cost and"
        " utilisation; only electricity price and PUE differ."
        f" {cheap.region}: ${cheap.output.total:.4f}/Mtok output.",
    ]
    lines += [
        f"  {d.region}: ${d.output.total:.4f} / ${cheap.output.total:.4f}"
        f" = {d.output.total / cheap.output.total:.3f}x;"
        f" difference ${d.output.total - cheap.output.total:.4f}/Mtok ="
        f" {(d.output.total - cheap.output.total) / price_diff:.2%} of the ${price_diff:g}"
        f" {premium.label} - {low.label} output price gap."
        for d in dear
    ]
    free = max(d.output.total for d in dear) / (cheap.output.total - cheap.output.energy)
    lines.append(
        f"Even with free electricity in {cheap.region}, the cost ratio is at most {free:.3f}x."
    )
    return Evidence(
        data_low=min(ratios),
        data_high=max(ratios),
        arithmetic=lines,
        sources=[ENERGY_SOURCE, "data/regions.toml", "models.dev list prices"],
    )


def region_price(claim: Claim, ctx: ClaimContext) -> Evidence:
    region = ctx.economics.region(word(claim, "region"))
    fx = param(claim, "cny_per_usd")
    low, high = region.usd_per_kwh_low * fx, region.usd_per_kwh_high * fx
    return Evidence(
        data_low=low,
        data_high=high,
        arithmetic=[
            f"{region.name} ({region.id}): ${region.usd_per_kwh_low:.4f}-"
            f"${region.usd_per_kwh_high:.4f}/kWh x {fx:g} CNY/USD = {low:.3f}-{high:.3f} CNY/kWh"
            f" (central {region.usd_per_kwh * fx:.3f}).",
            f"Source kind: {region.source_kind}. {' '.join(region.source.split())}",
        ],
        sources=[f"data/regions.toml [{region.id}]"],
        independent=region.source_kind == "independent",
    )


def region_gap(claim: Claim, ctx: ClaimContext) -> Evidence:
    econ = ctx.economics
    dear, cheap = (
        econ.region(word(claim, "dear_region")),
        econ.region(word(claim, "cheap_region")),
    )
    low, high = (
        dear.usd_per_kwh_low / cheap.usd_per_kwh_high,
        dear.usd_per_kwh_high / cheap.usd_per_kwh_low,
    )
    return Evidence(
        data_low=low,
        data_high=high,
        arithmetic=[
            f"{dear.id} ${dear.usd_per_kwh_low:.4f}-${dear.usd_per_kwh_high:.4f} / {cheap.id}"
            f" ${cheap.usd_per_kwh_low:.4f}-${cheap.usd_per_kwh_high:.4f} = {low:.2f}-{high:.2f}x"
            f" (central {dear.usd_per_kwh / cheap.usd_per_kwh:.2f}x).",
            _saving_line(claim, dear, cheap),
        ],
        sources=[f"data/regions.toml [{dear.id}], [{cheap.id}]"],
        independent=dear.source_kind == cheap.source_kind == "independent",
    )


def _saving_line(claim: Claim, dear: Region, cheap: Region) -> str:
    # saving/yr = IT kW x 8760 h x (price_dear x PUE_dear - price_cheap x PUE_cheap); solve for kW.
    saving, fx = param(claim, "saving_cny_per_year"), param(claim, "cny_per_usd")
    per_kw_year = (
        (dear.usd_per_kwh * dear.pue - cheap.usd_per_kwh * cheap.pue) * fx * HOURS_PER_YEAR
    )
    size = (
        f"{saving / per_kw_year / 1000:.1f} MW of IT load"
        if per_kw_year > 0
        else "no size (no saving)"
    )
    return (
        f"The claimed CNY {saving / 1e6:g} M/yr saving: at table prices and PUEs each IT kW"
        f" saves {per_kw_year:,.0f} CNY/yr, so the saving implies {size}; the articles give no"
        " size, so this is shown, not judged."
    )


def _extreme(econ: Economics, lowest: bool) -> tuple[EnergyCurve, int]:
    """The curve and point index holding the lowest (or highest) measured energy per token."""
    points = [(e, i, c) for c in econ.energy.curves for i, e in enumerate(c.energy)]
    choose = min if lowest else max
    _, i, curve = choose(points, key=lambda p: p[0])
    return curve, i


CHECKERS: dict[str, Checker] = {
    "energy_per_token": energy_per_token,
    "electricity_share": electricity_share,
    "price_gap": price_gap,
    "price_gap_electricity": price_gap_electricity,
    "region_price": region_price,
    "region_gap": region_gap,
    **checks_power.CHECKERS,
    **checks_market.CHECKERS,
}
