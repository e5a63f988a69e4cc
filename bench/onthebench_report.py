"""The Markdown table of bench/onthebench.py's results (one row per system, direct first)."""

from __future__ import annotations

from typing import Any

from bench.onthebench_phases import THRESHOLDS_MS

HEAD = (
    "| system | added p50 / p99 @ c=1 (ms) | RPS while added p99 < "
    + " / ".join(f"{t}" for t in THRESHOLDS_MS)
    + " ms (20 ms upstream) | SSE streams sustained | chat RPS | translated RPS "
    "| CPU ms / req | RSS idle / load / streams / recovered (MB) |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def _num(x: float | None, fmt: str = "{:,.0f}") -> str:
    return "—" if x is None else fmt.format(x)


def _frontier(f: dict[str, Any] | None) -> str:
    if not f:
        return "—"
    cells = []
    first = f["points"][0]["rps"] if f["points"] else 0
    for t in THRESHOLDS_MS:
        c = f["under_added_p99_ms"][str(t)]
        if c["rps"] == 0:
            cells.append(f"<{first}")
        elif c["first_failing_rps"] is None:
            cells.append(f"≥{c['rps']:,}")  # never failed up to the search's bound
        else:
            cells.append(f"{c['rps']:,}")
    return " / ".join(cells)


def _streams(e: dict[str, Any]) -> str:
    if e.get("stream_failure"):
        return f"not measured ({e['stream_failure'][:60]})"
    s = e.get("streams")
    if not s:
        return "—"
    last = s["levels"][-1] if s["levels"] else None
    if last is None or last["passed"]:
        return f"≥{s['sustained']}" if s["sustained"] == s["ladder"][-1] else str(s["sustained"])
    st = last["streams"]
    why = (
        f"{last['concurrent']}: {last['errors']} err, {st['short']} short, {st['stalled']} stalled"
    )
    return f"{s['sustained']} ({why})"


def _c1(e: dict[str, Any]) -> str:
    if "c1_added_ms" in e:
        a = e["c1_added_ms"]
        return f"{a['p50']:.2f} / {a['p99']:.2f}"
    lat = e["c1"]["latency_ms"]
    return f"{lat['p50']:.2f} / {lat['p99']:.2f} (absolute)"


def _translated(e: dict[str, Any]) -> str:
    tr = e.get("translated")
    if tr:
        cpu = tr.get("cpu_ms_per_request")
        return _num(tr["rps"]) + (f" ({cpu:.3f} ms CPU)" if cpu else "")
    why = e.get("translation_failure")
    return f"n/a ({why[:70]})" if why else "—"


def row(name: str, e: dict[str, Any]) -> str:
    if e.get("status", "ok") != "ok":
        return f"| {name} | {e['status']}: {e.get('reason', '')[:120]} |||||||\n"
    chat = e.get("chat") or {}
    rss = " / ".join(
        _num(x, "{:.0f}")
        for x in (
            e.get("rss_idle_mb"),
            e.get("rss_load_mb"),
            (e.get("streams") or {}).get("peak_rss_mb"),
            e.get("rss_recovered_mb"),
        )
    )
    cells = [
        name,
        _c1(e),
        _frontier(e.get("frontier")),
        _streams(e),
        _num(chat.get("rps")),
        _translated(e),
        _num(chat.get("cpu_ms_per_request"), "{:.3f}"),
        rss,
    ]
    return "| " + " | ".join(cells) + " |\n"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out = HEAD + row("direct (the mocks alone)", results["direct"])
    for name, entry in results["systems"].items():
        out += row(name, entry)
    out += (
        f"\n{meta['started']}, commit `{meta['commit']}`, profile `{meta['profile']['name']}`, "
        f"{meta['duration_s']:.0f} s; CPU busy while the benchmark ran nothing "
        f"(`busy_fraction`): {meta['busy_fraction_before']:.2f} before, "
        f"{meta['busy_fraction_after']:.2f} after. {meta['pinning']}.\n"
        f"Command: `{meta['command']}`\n"
    )
    return out
