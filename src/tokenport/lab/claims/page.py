"""`tokenport economics report`: the claim check as one self-contained HTML page (or JSON).

The page carries its charts as Chart.js configurations plus Chart.js itself (the copy the
dashboard vendors, inlined), so it needs no network and no plotting package. Every verdict
on it comes from `checks.check_claims`; this module only lays the results out.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from importlib.resources import files

import msgspec

from tokenport.economics.costmodel import (
    CostBreakdown,
    Deployment,
    PriceComparison,
    compare_list_prices,
    compare_regions,
    marginal_cost_per_mtok,
)
from tokenport.economics.inputs import data_toml
from tokenport.economics.settings import Economics, default_economics
from tokenport.lab.claims import charts
from tokenport.lab.claims.checks import check_claims
from tokenport.lab.claims.checks_market import Pair, pairs
from tokenport.lab.claims.checks_power import TrainingRun, training_runs
from tokenport.lab.claims.claim import Claim, ClaimResult, load_claims
from tokenport.lab.claims.deepseek import TOLERANCE, Reproduction, figure_text, reproduce
from tokenport.lab.claims.prices import ListPrice, shipped_list_prices
from tokenport.lab.claims.sensitivity import describe

REFERENCE = Deployment(model="Llama-3.1-70B", gpu="H100")
J_PER_100_KWH = 3.6e6 / 100  # kWh per 100 tokens -> J per token
CHART_MODELS = ("Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B-Instruct-FP8", "Qwen3-235B-A22B")


class PriceRow(msgspec.Struct, frozen=True):
    """A list price against its proxy's cost at the default load (`typical`) and at the
    largest measured batch (`best`), the cheapest the proxy was seen to serve."""

    proxy: str
    note: str
    region: str
    typical: PriceComparison
    best: PriceComparison
    reading: str


class Report(msgspec.Struct, frozen=True):
    claims: list[ClaimResult]
    regions: list[CostBreakdown]
    prices: list[PriceRow]
    assumptions: dict[str, str]
    reproduction: Reproduction
    training_runs: list[TrainingRun]
    pairs: list[Pair]  # the capability claim's model pairs, for its chart


def build_report(
    economics: Economics | None = None,
    claims: list[Claim] | None = None,
    list_prices: list[ListPrice] | None = None,
) -> Report:
    econ = economics or default_economics()
    prices = shipped_list_prices() if list_prices is None else list_prices
    claims = load_claims() if claims is None else claims
    capability = [c for c in claims if c.kind == "capability_cost"]
    return Report(
        claims=check_claims(econ, claims, prices),
        regions=compare_regions(REFERENCE, economics=econ),
        prices=[_price_row(p, econ) for p in prices if p.proxy_model and p.proxy_gpu],
        assumptions={k: " ".join(v.split()) for k, v in econ.assumptions.why.items()},
        reproduction=reproduce("deepseek-2025-03", econ),
        training_runs=training_runs(econ)[0],
        pairs=pairs(capability[0]) if capability else [],
    )


def _price_row(price: ListPrice, econ: Economics) -> PriceRow:
    deployment = Deployment(
        model=price.proxy_model or "", gpu=price.proxy_gpu or "", region=price.proxy_region or ""
    )
    typical = marginal_cost_per_mtok(deployment, economics=econ)
    best = marginal_cost_per_mtok(deployment, load=1.0, economics=econ)
    vs_typical = compare_list_prices(typical, [price.row])[0]
    vs_best = compare_list_prices(best, [price.row])[0]
    return PriceRow(
        proxy=f"{typical.model_id.split('/')[-1]} on {typical.gpu_count}x{typical.gpu}",
        note=price.proxy_note,
        region=typical.region,
        typical=vs_typical,
        best=vs_best,
        reading=_reading(vs_typical, vs_best),
    )


def _reading(typical: PriceComparison, best: PriceComparison) -> str:
    if typical.verdict == "margin":
        return f"margin: {typical.markup_output:.1f}x the cost at the default load"
    if best.verdict == "margin":
        return "margin only at the largest measured batch"
    markup = best.markup_output
    return f"below cost even at the largest batch ({markup:.2f}x): subsidised or served cheaper"


def report_json(report: Report) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report))


def render_html(report: Report, economics: Economics | None = None) -> str:
    econ = economics or default_economics()
    pictures = {name: _canvas(name, config) for name, config in _charts(report, econ).items()}
    body = [
        "<h1>Token economics: the press claims against measured data</h1>",
        "<p>Each verdict below is computed from the claimed range, the data range and a stated"
        " tolerance: <em>consistent</em> when the ranges overlap or lie within the tolerance"
        " factor of each other, otherwise <em>overstated</em> or <em>understated</em>."
        " <b>factor</b> = claimed / data at the ranges' geometric midpoints; <b>gap</b> = how"
        " many times apart the nearest ends are.</p>",
        _summary(report.claims),
        *_claim_sections(report.claims, pictures),
        _reproduction_section(report.reproduction, pictures.get("reproduction")),
        _prices_section(report.prices, pictures.get("prices")),
        _assumptions_section(report.assumptions, econ),
        _chart_scripts(),
    ]
    return PAGE.format(body="\n".join(body))


def _canvas(name: str, config: charts.ChartConfig) -> str:
    """A canvas and its config as inert JSON; `_chart_scripts` draws it."""
    height = int(config.get("height", 340))
    spec = {k: v for k, v in config.items() if k != "height"}
    # "<" escaped, so no string in the data can close the script element early.
    data = msgspec.json.encode(spec).decode().replace("<", "\\u003c")
    return (
        f"<figure class='chart' style='height:{height}px'><canvas id='chart-{name}'></canvas>"
        f"<script type='application/json' class='chart-config' data-canvas='chart-{name}'>"
        f"{data}</script></figure>"
    )


def _chart_scripts() -> str:
    chart_js = (files("tokenport.analytics") / "static" / "chart.umd.min.js").read_text("utf-8")
    inline = chart_js.replace("</script", "<\\/script")
    return f"<script>{inline}</script><script>{DRAW}</script>"


DRAW = """
document.querySelectorAll("script.chart-config").forEach(function (el) {
  var config = JSON.parse(el.textContent);
  config.options = Object.assign(
    { responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  config.options.plugins = config.options.plugins || {};
  config.options.plugins.legend = { labels: { filter: function (item, data) {
    return !data.datasets[item.datasetIndex].legendHidden; } } };
  new Chart(document.getElementById(el.dataset.canvas), config);
});
"""


def _charts(report: Report, econ: Economics) -> dict[str, charts.ChartConfig]:
    out = {"electricity_share": charts.cost_chart(report.regions)}
    energy = next((r for r in report.claims if r.id == "energy_per_token"), None)
    if energy is not None:
        curves = [econ.energy.find(m, "H100") for m in CHART_MODELS]
        claimed_j = (energy.claimed_low * J_PER_100_KWH, energy.claimed_high * J_PER_100_KWH)
        out["energy_per_token"] = charts.energy_chart(curves, claimed_j)
    ranged = [r for r in report.claims if r.unit == "CNY/kWh"]
    if ranged:
        out["region_price"] = charts.range_chart(ranged, "CNY/kWh")
    pue = [r for r in report.claims if r.unit == "PUE"]
    if pue:
        out["pue"] = charts.range_chart(pue, "PUE", "Data-centre PUE")
    training = next((r for r in report.claims if r.id == "training_energy"), None)
    if training is not None and report.training_runs:
        out["training_energy"] = charts.training_chart(report.training_runs, training.claimed_low)
    capability = next((r for r in report.claims if r.id == "capability_gap"), None)
    cost = next((r for r in report.claims if r.id == "cost_gap"), None)
    if capability is not None and cost is not None and report.pairs:
        floor, least = capability.claimed_low, cost.claimed_low
        out["capability_gap"] = charts.capability_chart(report.pairs, floor, least)
    out["reproduction"] = charts.reproduction_chart(report.reproduction.rows, TOLERANCE)
    if report.prices:
        out["prices"] = charts.price_chart([(p.typical, p.best) for p in report.prices])
    return out


def _fmt(x: float) -> str:
    return f"{x:,.4g}" if abs(x) >= 1e-3 else f"{x:.3g}"


def _range(low: float, high: float) -> str:
    return _fmt(low) if low == high else f"{_fmt(low)}&ndash;{_fmt(high)}"


def claimed_text(r: ClaimResult, fmt: Callable[[float], str]) -> str:
    """The claimed side as the claim says it: a range, "more than x" or "less than x"."""
    if r.bound == "at_least":
        return f"> {fmt(r.claimed_low)}"
    if r.bound == "at_most":
        return f"< {fmt(r.claimed_high)}"
    low, high = fmt(r.claimed_low), fmt(r.claimed_high)
    return low if low == high else f"{low}-{high}"


def flips_text(r: ClaimResult) -> str:
    if not r.sensitivity:
        return "no assumption on the data side (published figures only)"
    return "; ".join(describe(f) for f in r.sensitivity)


def _summary(results: Sequence[ClaimResult]) -> str:
    rows = "".join(
        f"<tr><td><a href='#{r.id}'>{html.escape(r.title)}</a></td>"
        f"<td>{html.escape(claimed_text(r, _fmt))}</td>"
        f"<td>{_range(r.data_low, r.data_high)}</td>"
        f"<td>{html.escape(r.unit)}</td><td>{r.factor:,.3g}&times;</td>"
        f"<td class='{r.verdict}'>{r.verdict}{'' if r.independent else ' *'}</td>"
        f"<td class='note'>{html.escape(flips_text(r))}</td></tr>"
        for r in results
    )
    return (
        "<table><tr><th>claim</th><th>claimed</th><th>data</th><th>unit</th><th>factor</th>"
        f"<th>verdict</th><th>what would flip it</th></tr>{rows}</table>"
        "<p class='note'>* the data side rests on our estimate or on the articles themselves"
        " (see its sources), not a published statistic, so read that verdict as weak.</p>"
    )


def _claim_sections(results: Sequence[ClaimResult], pictures: dict[str, str]) -> Iterable[str]:
    shown: set[str] = set()
    for r in results:
        kind = {"CNY/kWh": "region_price", "PUE": "pue"}.get(r.unit, r.id)
        picture = pictures.get(kind) if kind not in shown else None
        shown.add(kind)
        steps = "".join(f"<li>{html.escape(line)}</li>" for line in r.arithmetic)
        sources = "; ".join(html.escape(s.rstrip(".")) for s in [r.source, *r.sources])
        yield (
            f"<h2 id='{r.id}'>{html.escape(r.title)}</h2>"
            f"<p><b>Claimed</b> {html.escape(claimed_text(r, _fmt))} {html.escape(r.unit)};"
            f" <b>data</b> {_range(r.data_low, r.data_high)}; <b>factor</b> {r.factor:,.3g}&times;;"
            f" <b>gap</b> {r.gap:,.3g}&times; against tolerance {r.tolerance:g}&times;"
            f" &rarr; <span class='{r.verdict}'>{r.verdict}</span>.</p>"
            f"<ol>{steps}</ol><p><b>What would flip it:</b> {html.escape(flips_text(r))}</p>"
            f"<p class='note'>Sources: {sources}</p>{picture or ''}"
        )


def _reproduction_section(rep: Reproduction, picture: str | None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.figure)}</td><td>{html.escape(r.unit)}</td>"
        f"<td>{figure_text(r.disclosed)}</td><td>{figure_text(r.reproduced)}</td>"
        f"<td>{r.error:+.2%}</td>"
        f"<td class='note'>{html.escape(r.carried_by)}</td></tr>"
        for r in rep.rows
    )
    assumed = "".join(
        f"<li><b>{html.escape(k)}</b> = {html.escape(v)}</li>" for k, v in rep.assumptions.items()
    )
    what_if = "".join(f"<li>{html.escape(line)}</li>" for line in rep.sensitivity)
    src = rep.source
    verdict = "within" if rep.within_tolerance else "NOT within"
    return (
        f"<h2 id='reproduction'>DeepSeek's cost disclosure, reproduced ({html.escape(rep.name)})"
        f"</h2><p>{html.escape(src['title'])}, {html.escape(src['publisher'])},"
        f" {html.escape(src['published'])} ({html.escape(src['window'])}). Rebuilt from the cost"
        f" model's parts; every figure is {verdict} {TOLERANCE:.0%} of the disclosure."
        " <code>tokenport costs --reproduce deepseek-2025-03</code> prints the same.</p>"
        "<table><tr><th>figure</th><th>unit</th><th>disclosed</th><th>reproduced</th>"
        f"<th>error</th><th>carried by</th></tr>{rows}</table>{picture or ''}"
        f"<p><b>Assumptions</b></p><ul>{assumed}</ul><p><b>Sensitivity</b></p><ul>{what_if}</ul>"
    )


def _prices_section(rows: Sequence[PriceRow], picture: str | None) -> str:
    body = "".join(
        f"<tr><td>{html.escape(p.typical.label)}</td><td>{_fmt(p.typical.list_input)} /"
        f" {_fmt(p.typical.list_output)}</td><td>{html.escape(p.proxy)} ({p.region})</td>"
        f"<td>{_fmt(p.typical.cost_input)} / {_fmt(p.typical.cost_output)}</td>"
        f"<td>{_fmt(p.best.cost_input)} / {_fmt(p.best.cost_output)}</td>"
        f"<td>{html.escape(p.reading)}</td><td class='note'>{html.escape(p.note)}</td></tr>"
        for p in rows
    )
    return (
        "<h2>List prices beside derived serving cost</h2><p>USD per million tokens, input /"
        " output. Cost is for a measured proxy model, owner-operated, at the default load and"
        " at the largest batch it was measured at; markup = list / cost. Proxies are rough"
        " stand-ins (see notes), so read the markups as orders of magnitude.</p>"
        "<table><tr><th>model</th><th>list</th><th>proxy</th><th>cost, default load</th>"
        f"<th>cost, largest batch</th><th>reading</th><th>proxy note</th></tr>{body}</table>"
        f"{picture or ''}"
    )


def _assumptions_section(why: dict[str, str], econ: Economics) -> str:
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in why.items())
    regions = "".join(
        f"<tr><td>{r.id}</td><td>{r.usd_per_kwh:.4f}</td><td>{r.pue:g}</td><td>{r.source_kind}</td>"
        f"<td class='note'>{html.escape(' '.join(r.source.split()))}</td></tr>"
        for r in econ.regions.values()
    )
    attribution = data_toml("sources.toml")["ml_energy"]
    return (
        f"<h2>Assumptions and sources</h2><ul>{items}</ul>"
        "<table><tr><th>region</th><th>USD/kWh</th><th>PUE</th><th>kind</th><th>source</th></tr>"
        f"{regions}</table><p class='note'>Energy data: {html.escape(attribution['name'])},"
        f" {html.escape(attribution['publisher'])}, {html.escape(attribution['url'])}"
        f" ({html.escape(attribution['license'])}).</p>"
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tokenport economics report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d2733; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
td, th {{ border: 1px solid #d5dbe1; padding: 0.3rem 0.5rem; text-align: left;
          vertical-align: top; }}
th {{ background: #f1f4f7; }}
figure.chart {{ position: relative; margin: 1rem 0; }}
ol li {{ margin: 0.2rem 0; font-family: ui-monospace, monospace; font-size: 0.82rem; }}
.note {{ color: #5b6773; font-size: 0.82rem; }}
.consistent {{ color: #2e7d32; font-weight: 600; }}
.overstated, .understated {{ color: #c0392b; font-weight: 600; }}
</style></head><body>
{body}
</body></html>
"""
