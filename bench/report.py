"""Derived figures (overhead over the direct baseline, ratios, targets), the table, the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TARGET_RATIO = 10.0
TARGET_P50_MS = 1.0
TARGET_P99_MS = 5.0
TARGET_TTFT_MS = 1.0
TARGET_RSS_GROWTH_PCT = 10.0
TARGET_RATE = "500"


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def added_latency(rates: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of the system minus p50/p99 of a direct call at the same rate, same run."""
    out: dict[str, Any] = {}
    for key, r in rates.items():
        base = baseline.get(key, {})
        if "skipped" in r or "latency_ms" not in base:
            out[key] = {"p50": None, "p99": None, "note": r.get("skipped", "no baseline")}
            continue
        out[key] = {
            "p50": _diff(r["latency_ms"]["p50"], base["latency_ms"]["p50"]),
            "p99": _diff(r["latency_ms"]["p99"], base["latency_ms"]["p99"]),
            "achieved_rps": r["rps"],
            "errors": r["errors"],
        }
    return out


def ttft_overhead(stream: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    s, b = stream.get("ttft_ms") or {}, baseline.get("ttft_ms") or {}
    return {"p50": _diff(s.get("p50"), b.get("p50")), "p99": _diff(s.get("p99"), b.get("p99"))}


def _ok(value: float | None, limit: float, below: bool = True) -> bool | None:
    if value is None:
        return None
    return value <= limit if below else value >= limit


def targets(entry: dict[str, Any], peer: dict[str, Any] | None) -> dict[str, Any]:
    """The issue's targets, judged for one tokenport entry against LiteLLM at the same
    worker count from the same run."""
    at = entry["added_latency_ms"].get(TARGET_RATE, {})
    ratio = None
    if peer and peer.get("saturation_rps"):
        ratio = round(entry["saturation_rps"] / peer["saturation_rps"], 1)
    leak = entry["rss_leak"].get("growth_pct")
    ledger = entry.get("ledger") or {}
    return {
        "throughput_ratio_vs_litellm": {
            "value": ratio,
            "target": f">= {TARGET_RATIO}x",
            "met": _ok(ratio, TARGET_RATIO, below=False),
        },
        "added_p50_at_500": {
            "value": at.get("p50"),
            "target": f"<= {TARGET_P50_MS} ms",
            "met": _ok(at.get("p50"), TARGET_P50_MS),
        },
        "added_p99_at_500": {
            "value": at.get("p99"),
            "target": f"<= {TARGET_P99_MS} ms",
            "met": _ok(at.get("p99"), TARGET_P99_MS),
        },
        "ttft_overhead_p50": {
            "value": entry["ttft_overhead_ms"]["p50"],
            "target": f"<= {TARGET_TTFT_MS} ms",
            "met": _ok(entry["ttft_overhead_ms"]["p50"], TARGET_TTFT_MS),
        },
        "rss_growth": {
            "value": leak,
            "target": f"<= {TARGET_RSS_GROWTH_PCT}%",
            "met": _ok(None if leak is None else abs(leak), TARGET_RSS_GROWTH_PCT),
            "span": entry["rss_leak"],
        },
        "ledger_keeps_up": {
            "value": ledger.get("backlog_samples"),
            "target": "no backlog growth at saturation",
            "met": ledger.get("keeps_up"),
        },
    }


def ledger_summary(sustained: dict[str, Any]) -> dict[str, Any] | None:
    samples = [s["ledger_backlog"] for s in sustained["segments"]]
    if all(v is None for v in samples):
        return None
    known = [v for v in samples if v is not None]
    # Keeping up: the backlog does not grow from segment to segment; a batch or two in
    # flight when sampled is normal (the writer commits up to 500 records per batch).
    keeps_up = known[-1] <= max(1000, known[0])
    return {
        "backlog_samples": samples,
        "backlog_after_load": sustained.get("backlog_after_0_5s"),
        "keeps_up": keeps_up,
    }


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}{unit}" if abs(v) < 100 else f"{v:,.0f}{unit}"
    return f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"


def _abs(lat: dict[str, Any]) -> str:
    return f"{_fmt(lat['p50'])}/{_fmt(lat['p99'])} abs"


def table(results: dict[str, Any]) -> Table:
    rates = [str(r) for r in results["meta"]["profile"]["rates"]]
    t = Table(title="tokenport vs LiteLLM: gateway overhead over a direct call to the mock")
    t.add_column("system")
    t.add_column("w", justify="right")
    t.add_column("sat RPS", justify="right")
    t.add_column("CPU ms/req", justify="right")
    for r in rates:
        t.add_column(f"+p50/+p99 ms @{r}", justify="right")
    t.add_column("+TTFT p50/p99 ms", justify="right")
    t.add_column("err %", justify="right")
    t.add_column("peak RSS MB", justify="right")
    t.add_column("RSS growth %", justify="right")
    t.add_column("backlog", justify="right")
    base = results["baseline"]
    t.add_row(
        "direct (mock)",
        "-",
        _fmt(base["mock_ceiling_rps"]),
        "-",
        *[_abs(base["rates"][r]["latency_ms"]) for r in rates],
        f"{_fmt(base['stream']['ttft_ms']['p50'])}/{_fmt(base['stream']['ttft_ms']['p99'])} abs",
        "0",
        "-",
        "-",
        "-",
    )
    for e in results["systems"]:
        if e["status"] != "ok":
            t.add_row(
                e["system"],
                str(e["workers"]),
                f"[yellow]{e['status']}[/yellow]",
                *["-"] * (len(rates) + 6),
                "-",
            )
            continue
        lat = e["added_latency_ms"]
        cells = []
        for r in rates:
            a = lat.get(r, {})
            cells.append("skip" if a.get("p50") is None else f"{_fmt(a['p50'])}/{_fmt(a['p99'])}")
        led = e.get("ledger") or {}
        t.add_row(
            e["system"],
            str(e["workers"]),
            _fmt(e["saturation_rps"]),
            _fmt(e.get("cpu_ms_per_request")),
            *cells,
            f"{_fmt(e['ttft_overhead_ms']['p50'])}/{_fmt(e['ttft_overhead_ms']['p99'])}",
            _fmt(round(e["error_rate"] * 100, 3)),
            _fmt(e["peak_rss_mb"]),
            _fmt(e["rss_leak"].get("growth_pct")),
            _fmt(led.get("backlog_after_load")) if led else "n/a",
        )
    return t


def print_summary(results: dict[str, Any], console: Console) -> None:
    console.print(table(results), width=max(console.width, 190))
    other = results["meta"].get("other_load", {})
    if other:
        console.print(
            f"other load on the machine (busy fraction with the bench idle): "
            f"before {other['before']['busy_fraction_idle_probe']}, "
            f"after {other['after']['busy_fraction_idle_probe']}"
        )
        flush = [other[k].get("disk_fsync_ms") for k in ("before", "after")]
        if all(flush):
            b, a = flush
            console.print(
                "disk: one small append + fsync (the journal's flush), p50/p99 ms: "
                f"before {b['p50']}/{b['p99']}, after {a['p50']}/{a['p99']}"
            )
    for e in results["systems"]:
        if e["status"] != "ok":
            console.print(f"[yellow]{e['system']} (workers={e['workers']}): {e['reason']}[/yellow]")
        for name, tgt in (e.get("targets") or {}).items():
            mark = {True: "[green]met[/green]", False: "[red]MISSED[/red]", None: "n/a"}[tgt["met"]]
            console.print(
                f"  {e['system']} w={e['workers']} {name}: {tgt['value']} "
                f"(target {tgt['target']}) {mark}"
            )


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [e for e in results["systems"] if e["status"] == "ok"]
    labels = [f"{e['system']}\nw={e['workers']}" for e in ok]
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    ax = axes[0][0]
    ax.bar(labels, [e["saturation_rps"] for e in ok], color="tab:blue")
    ax.set_title("Saturation throughput (RPS, closed loop)")
    ax.set_yscale("log")
    ax = axes[0][1]
    xs = range(len(ok))
    p50 = [e["added_latency_ms"].get(TARGET_RATE, {}).get("p50") or 0 for e in ok]
    p99 = [e["added_latency_ms"].get(TARGET_RATE, {}).get("p99") or 0 for e in ok]
    ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
    ax.set_xticks(list(xs), labels)
    ax.set_title(f"Added latency at {TARGET_RATE} RPS (ms; 0 = skipped/above saturation)")
    ax.legend()
    ax = axes[1][0]
    t50 = [e["ttft_overhead_ms"]["p50"] or 0 for e in ok]
    t99 = [e["ttft_overhead_ms"]["p99"] or 0 for e in ok]
    ax.bar([x - 0.2 for x in xs], t50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], t99, 0.4, label="p99")
    ax.set_xticks(list(xs), labels)
    ax.set_title("Streaming time-to-first-token overhead (ms)")
    ax.legend()
    ax = axes[1][1]
    for e, label in zip(ok, labels, strict=True):
        segs = e["raw"]["sustained"]["segments"]
        ax.plot(
            [s["requests_total"] for s in segs],
            [s["rss_mb"] for s in segs],
            marker="o",
            label=label.replace("\n", " "),
        )
    ax.set_xscale("log")
    ax.set_title("RSS (MB, all processes) vs requests served")
    ax.legend(fontsize=7)
    for a in axes.flat:
        a.tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"tokenport bench ({results['meta']['profile']['name']}) — "
        f"{results['meta']['machine']['cpus']} CPUs, {results['meta']['started']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict[str, Any]) -> str:
    """The table as Markdown, for RESULTS.md."""
    rates = [str(r) for r in results["meta"]["profile"]["rates"]]
    slow = [k for k in results["baseline"]["rates"] if k not in rates]
    head = ["system", "workers", "saturation RPS", "CPU ms/req"]
    head += [f"added p50 / p99 ms @{r} RPS" for r in rates]
    head += [f"added p50 / p99 ms @{r.split('@')[0]} RPS, 50 ms upstream" for r in slow]
    head += ["TTFT overhead p50 / p99 ms", "errors", "peak RSS MB", "RSS growth", "ledger backlog"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    base = results["baseline"]
    cells = [_abs(base["rates"][r]["latency_ms"]) for r in rates + slow]
    stream = _abs(base["stream"]["ttft_ms"])
    lines.append(
        f"| direct to mock | - | {_fmt(base['mock_ceiling_rps'])} (mock + load gen on 1 CPU) "
        f"| - | {' | '.join(cells)} | {stream} | 0 | - | - | - |"
    )
    for e in results["systems"]:
        if e["status"] != "ok":
            reason = e["reason"].replace("\n", " ")[:300]
            lines.append(f"| {e['system']} | {e['workers']} | {e['status']}: {reason} |")
            continue
        lat = []
        for r in rates + slow:
            a = e["added_latency_ms"].get(r, {})
            lat.append(
                f"skipped ({a.get('note', '')})"
                if a.get("p50") is None
                else f"{_fmt(a['p50'])} / {_fmt(a['p99'])}"
            )
        leak = e["rss_leak"]
        growth = (
            f"{_fmt(leak.get('growth_pct'))}% ({leak.get('from_requests', 0):,} -> "
            f"{leak.get('to_requests', 0):,} req)"
            if leak.get("growth_pct") is not None
            else "-"
        )
        led = e.get("ledger") or {}
        backlog = (
            f"{led.get('backlog_samples')} -> {led.get('backlog_after_load')}" if led else "n/a"
        )
        t = e["ttft_overhead_ms"]
        lines.append(
            f"| {e['system']} | {e['workers']} | {_fmt(e['saturation_rps'])} "
            f"| {_fmt(e.get('cpu_ms_per_request'))} | {' | '.join(lat)} "
            f"| {_fmt(t['p50'])} / {_fmt(t['p99'])} | {e['errors']} of {e['requests']:,} "
            f"| {_fmt(e['peak_rss_mb'])} | {growth} | {backlog} |"
        )
    return "\n".join(lines) + "\n"
