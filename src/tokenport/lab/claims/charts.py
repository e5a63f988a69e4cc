"""The report's charts, as Chart.js configurations drawn by the page itself.

Each function returns a plain JSON-able Chart.js 4 config; `page.py` inlines the Chart.js
the dashboard already vendors (`analytics/static/chart.umd.min.js`), so the page still
needs no network, and `tokenport economics report` needs nothing beyond the gateway's own
dependencies (matplotlib was a dev-only package, so the README's install crashed here).
Chart.js has no annotation plugin in that file, so a claimed band is drawn as two flat
lines with the area between them filled, and per-bar labels go into the axis labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenport.economics.costmodel import CostBreakdown, PriceComparison
from tokenport.economics.energy import EnergyCurve
from tokenport.lab.claims.checks_market import Pair
from tokenport.lab.claims.checks_power import TrainingRun
from tokenport.lab.claims.claim import ClaimResult
from tokenport.lab.claims.deepseek import Row

ChartConfig = dict[str, Any]
COLORS = {"energy": "#e8a33d", "hardware": "#4c72b0", "other": "#9aa5b1"}
CLAIM_COLOR = "#c0392b"
CLAIM_FILL = "rgba(192, 57, 43, 0.25)"
DATA_COLOR = "#2e7d32"
PALETTE = ("#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#8b5cf6", "#ec4899", "#14b8a6")


def _title(text: str) -> dict[str, Any]:
    return {"display": True, "text": text}


def _axis(title: str, kind: str = "linear", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "title": _title(title), **extra}


def energy_chart(curves: Sequence[EnergyCurve], claimed_j: tuple[float, float]) -> ChartConfig:
    """Measured GPU J/token against batch size for `curves`, under the claimed band. Facility
    overheads (host, PUE) are left out: they are about 2x, invisible across five decades."""
    xs = [x for c in curves for x in c.batch] or [1.0]
    span = (min(xs), max(xs))
    band = [
        {
            "label": f"claimed: {claimed_j[0]:,.0f}-{claimed_j[1]:,.0f} J/token",
            "data": [{"x": x, "y": claimed_j[0]} for x in span],
            "borderColor": CLAIM_COLOR,
            "backgroundColor": CLAIM_FILL,
            "pointRadius": 0,
            "showLine": True,
        },
        {
            "label": "claimed (upper end)",
            "data": [{"x": x, "y": claimed_j[1]} for x in span],
            "borderColor": CLAIM_COLOR,
            "backgroundColor": CLAIM_FILL,
            "pointRadius": 0,
            "showLine": True,
            "fill": "-1",
            "legendHidden": True,  # read by the page's legend filter
        },
    ]
    lines = [
        {
            "label": c.label,
            "data": [{"x": x, "y": y} for x, y in zip(c.batch, c.energy, strict=True)],
            "borderColor": PALETTE[i % len(PALETTE)],
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "pointRadius": 2,
            "showLine": True,
        }
        for i, c in enumerate(curves)
    ]
    return {
        "type": "scatter",
        "data": {"datasets": [*lines, *band]},
        "options": {
            "plugins": {
                "title": _title(
                    "Measured energy per token vs the claimed 0.8-1.2 kWh per 100 tokens"
                ),
            },
            "scales": {
                "x": _axis("concurrent sequences (avg batch size)", "logarithmic"),
                "y": _axis(
                    "measured GPU energy per output token, J",
                    "logarithmic",
                    min=0.01,
                    max=claimed_j[1] * 5,
                ),
            },
        },
    }


def cost_chart(costs: Sequence[CostBreakdown]) -> ChartConfig:
    """Stacked USD per million output tokens by region, energy share in each label."""
    labels = [f"{c.region} (energy {c.energy_share:.1%})" for c in costs]
    datasets = [
        {
            "label": part,
            "data": [getattr(c.output, part) for c in costs],
            "backgroundColor": COLORS[part],
        }
        for part in ("energy", "hardware", "other")
    ]
    ref = costs[0]
    title = (
        f"{ref.model_id.split('/')[-1]} on {ref.gpu_count}x{ref.gpu}, batch "
        f"{ref.batch_size:g}: cost by region"
    )
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "indexAxis": "y",
            "plugins": {"title": _title(title)},
            "scales": {
                "x": _axis("USD per million output tokens", stacked=True),
                "y": {"stacked": True},
            },
        },
        "height": 40 * len(costs) + 120,
    }


def price_chart(rows: Sequence[tuple[PriceComparison, PriceComparison]]) -> ChartConfig:
    """List output price beside the derived cost of its proxy (default load and best batch)."""
    labels = [f"{typical.label} ({typical.markup_output:.1f}x)" for typical, _ in rows]
    return {
        "type": "bar",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "label": "list price",
                    "data": [t.list_output for t, _ in rows],
                    "backgroundColor": "#4c72b0",
                },
                {
                    "label": "cost, default load",
                    "data": [t.cost_output for t, _ in rows],
                    "backgroundColor": "#e8a33d",
                },
                {
                    "label": "cost, largest batch",
                    "data": [b.cost_output for _, b in rows],
                    "backgroundColor": "#7f6a4a",
                },
            ],
        },
        "options": {
            "plugins": {
                "title": _title(
                    "List price vs derived serving cost of a proxy (markup at default load)"
                )
            },
            "scales": {"y": _axis("USD per million output tokens", "logarithmic")},
        },
    }


def range_chart(
    results: Sequence[ClaimResult], unit: str, title: str = "Industrial electricity price"
) -> ChartConfig:
    """Claimed range beside data range, one row per claim (floating bars)."""

    def span(low: float, high: float) -> list[float]:
        # A point claim still needs a visible bar.
        return [low, high] if high > low else [low * 0.995, high * 1.005]

    return {
        "type": "bar",
        "data": {
            "labels": [f"{r.id} ({r.verdict})" for r in results],
            "datasets": [
                {
                    "label": "claimed",
                    "data": [span(r.claimed_low, r.claimed_high) for r in results],
                    "backgroundColor": CLAIM_COLOR,
                },
                {
                    "label": "data",
                    "data": [span(r.data_low, r.data_high) for r in results],
                    "backgroundColor": DATA_COLOR,
                },
            ],
        },
        "options": {
            "indexAxis": "y",
            "plugins": {"title": _title(f"{title}: claimed vs data")},
            "scales": {"x": _axis(unit, min=0 if unit != "PUE" else 1)},
        },
        "height": 60 * len(results) + 120,
    }


def _flat(label: str, value: float, count: int, color: str = CLAIM_COLOR) -> dict[str, Any]:
    """A horizontal line across a category chart: Chart.js has no annotation plugin here."""
    return {
        "type": "line",
        "label": label,
        "data": [value] * count,
        "borderColor": color,
        "borderDash": [6, 4],
        "pointRadius": 0,
        "fill": False,
    }


def reproduction_chart(rows: Sequence[Row], tolerance: float) -> ChartConfig:
    """Each reproduced figure's error against the disclosure, inside the tolerance band."""
    n = len(rows)
    return {
        "type": "bar",
        "data": {
            "labels": [r.figure for r in rows],
            "datasets": [
                {
                    "label": "reproduced / disclosed - 1, %",
                    "data": [r.error * 100 for r in rows],
                    "backgroundColor": DATA_COLOR,
                },
                _flat(f"+{tolerance:.0%}", tolerance * 100, n),
                _flat(f"-{tolerance:.0%}", -tolerance * 100, n),
            ],
        },
        "options": {
            "plugins": {"title": _title("DeepSeek's disclosure: error of each reproduced figure")},
            "scales": {"y": _axis("error, %", min=-tolerance * 200, max=tolerance * 200)},
        },
    }


def training_chart(runs: Sequence[TrainingRun], claimed_gwh: float) -> ChartConfig:
    """Each published run's facility energy (a range for GPU-hour runs) under the claimed floor."""

    def span(low: float, high: float) -> list[float]:
        return [low, high] if high > low else [low * 0.97, high * 1.03]

    return {
        "type": "bar",
        "data": {
            "labels": [r.model for r in runs],
            "datasets": [
                {
                    "label": "facility energy, GWh (range: PUE and host overhead)",
                    "data": [span(r.low_gwh, r.high_gwh) for r in runs],
                    "backgroundColor": DATA_COLOR,
                },
                _flat(f"claimed: more than {claimed_gwh:g} GWh", claimed_gwh, len(runs)),
            ],
        },
        "options": {
            "plugins": {"title": _title("Training energy of published runs vs the claim")},
            "scales": {
                "y": _axis("GWh per training run", "logarithmic", min=0.1, max=claimed_gwh * 4)
            },
        },
    }


def capability_chart(pairs: Sequence[Pair], floor: float, least: float) -> ChartConfig:
    """Score ratio against cost gap per pair (and per benchmark); the claim is the top right."""
    gaps = [g for p in pairs for _, _, g in p.per_dataset] + [least]
    span = (min(gaps) / 1.5, max(gaps) * 1.5)
    points = [
        {
            "label": f"{p.cheap.split('/')[-1]} vs {p.premium}",
            "data": [{"x": p.cost_gap, "y": p.ratio}]
            + [{"x": g, "y": r} for _, r, g in p.per_dataset],
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "pointRadius": [7] + [3] * len(p.per_dataset),
        }
        for i, p in enumerate(pairs)
    ]
    lines = [
        {
            "label": f"claimed: score ratio > {floor:g}, cost gap > {least:g}x",
            "data": [{"x": least, "y": floor}, {"x": span[1], "y": floor}],
            "borderColor": CLAIM_COLOR,
            "pointRadius": 0,
            "showLine": True,
        },
        {
            "label": "claimed (cost edge)",
            "data": [{"x": least, "y": floor}, {"x": least, "y": 1.1}],
            "borderColor": CLAIM_COLOR,
            "pointRadius": 0,
            "showLine": True,
            "legendHidden": True,
        },
    ]
    return {
        "type": "scatter",
        "data": {"datasets": [*points, *lines]},
        "options": {
            "plugins": {
                "title": _title("Capability vs cost per pair (large: all benchmarks; small: each)")
            },
            "scales": {
                "x": _axis("cost gap, premium / cheap per call", "logarithmic", min=span[0]),
                "y": _axis("score ratio, cheap / premium", min=0.3, max=1.1),
            },
        },
    }
