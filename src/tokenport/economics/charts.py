"""The report's charts, as PNG bytes.

Figures are built with matplotlib's object API (`Figure` + Agg canvas), never pyplot, so
drawing keeps no global state and needs no display.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure

from tokenport.economics.claims import ClaimResult
from tokenport.economics.costmodel import CostBreakdown, PriceComparison
from tokenport.economics.energy import EnergyCurve

COLORS = {"energy": "#e8a33d", "hardware": "#4c72b0", "other": "#9aa5b1"}
CLAIM_COLOR = "#c0392b"
DATA_COLOR = "#2e7d32"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def energy_chart(curves: Sequence[EnergyCurve], claimed_j: tuple[float, float]) -> bytes:
    """Measured GPU J/token against batch size for `curves`, under the claimed band. Facility
    overheads (host, PUE) are left out: they are about 2x, invisible across five decades."""
    fig = Figure(figsize=(8, 4.8))
    ax = fig.add_subplot()
    for curve in curves:
        ax.plot(curve.batch, curve.energy, marker="o", ms=3, label=curve.label)
    ax.axhspan(*claimed_j, color=CLAIM_COLOR, alpha=0.25)
    ax.text(
        curves[0].batch[0] if curves else 1,
        claimed_j[0] * 0.35,
        f"claimed: {claimed_j[0]:,.0f}-{claimed_j[1]:,.0f} J/token",
        color=CLAIM_COLOR,
        fontsize=9,
    )
    ax.set(xscale="log", yscale="log", xlabel="concurrent sequences (avg batch size)")
    ax.set_ylabel("measured GPU energy per output token, J")
    ax.set_ylim(0.01, claimed_j[1] * 5)
    ax.set_title("Measured energy per token vs the claimed 0.8-1.2 kWh per 100 tokens")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    return _png(fig)


def cost_chart(costs: Sequence[CostBreakdown]) -> bytes:
    """Stacked USD per million output tokens by region, energy share labelled."""
    fig = Figure(figsize=(8, 0.55 * len(costs) + 1.6))
    ax = fig.add_subplot()
    labels = [c.region for c in costs]
    left = [0.0] * len(costs)
    for part in ("energy", "hardware", "other"):
        widths = [getattr(c.output, part) for c in costs]
        ax.barh(labels, widths, left=left, color=COLORS[part], label=part)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, c in enumerate(costs):
        ax.text(c.output.total * 1.01, y, f"energy {c.energy_share:.1%}", va="center", fontsize=8)
    ax.set_xlim(0, max(left) * 1.25)
    ax.invert_yaxis()
    ref = costs[0]
    ax.set_xlabel("USD per million output tokens")
    ax.set_title(
        f"{ref.model_id.split('/')[-1]} on {ref.gpu_count}x{ref.gpu}, batch {ref.batch_size:g}:"
        " cost by region"
    )
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    return _png(fig)


def price_chart(rows: Sequence[tuple[PriceComparison, PriceComparison]]) -> bytes:
    """List output price beside the derived cost of its proxy (default load and best batch)."""
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    xs = list(range(len(rows)))
    lists = [typical.list_output for typical, _ in rows]
    ax.bar([x - 0.2 for x in xs], lists, 0.4, label="list price", color="#4c72b0")
    costs = [typical.cost_output for typical, _ in rows]
    ax.bar([x + 0.2 for x in xs], costs, 0.4, label="cost, default load", color="#e8a33d")
    best = [b.cost_output for _, b in rows]
    ax.scatter([x + 0.2 for x in xs], best, marker="_", s=300, color="black", zorder=3)
    ax.scatter([], [], marker="_", s=120, color="black", label="cost, largest batch")
    for x, (typical, _) in zip(xs, rows, strict=True):
        top = max(typical.list_output, typical.cost_output) * 1.15
        ax.text(x, top, f"{typical.markup_output:.1f}x", ha="center", fontsize=8)
    ax.set_xticks(xs, [t.label for t, _ in rows], rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(min(lists + costs + best) / 2, max(lists + costs) * 2.5)
    ax.set_ylabel("USD per million output tokens")
    ax.set_title("List price vs derived serving cost of a proxy (markup at default load)")
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def range_chart(results: Sequence[ClaimResult], unit: str) -> bytes:
    """Claimed range beside data range, one row per claim."""
    fig = Figure(figsize=(8, 0.7 * len(results) + 1.4))
    ax = fig.add_subplot()
    for y, r in enumerate(results):
        ax.plot([r.claimed_low, r.claimed_high], [y + 0.12] * 2, lw=7, color=CLAIM_COLOR, alpha=0.7)
        ax.plot([r.data_low, r.data_high], [y - 0.12] * 2, lw=7, color=DATA_COLOR, alpha=0.7)
    ax.set_yticks(range(len(results)), [f"{r.id}\n({r.verdict})" for r in results], fontsize=8)
    ax.plot([], [], lw=7, color=CLAIM_COLOR, alpha=0.7, label="claimed")
    ax.plot([], [], lw=7, color=DATA_COLOR, alpha=0.7, label="data")
    ax.set_xlim(0, max(max(r.claimed_high, r.data_high) for r in results) * 1.3)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title("Industrial electricity price: claimed vs data")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return _png(fig)
