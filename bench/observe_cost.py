"""What metrics, tracing and the response cache cost on the hot path: CPU per request.

    python bench/observe_cost.py                      # 5 rounds, every variant, 6 s each
    python bench/observe_cost.py --rounds 3 --variants off,metrics

Each round starts a fresh `tokenport serve` per variant (pinned like bench/run.py; the mock
and load generator on the last CPU), warms it up, then drives it closed-loop with 32
connections against bench/mock.py and divides the CPU time of the gateway's process tree by
the answers it gave. Variants alternate within every round, so drift on a shared machine
hits all of them alike; the figure reported is, per variant, the median over rounds of its
CPU per request divided by `off`'s in the same round.

Variants (one worker unless named -w2; ledger on, SQLite, `ledger_sync = "process"`):
- `off`: `[metrics] enabled = false`, no tracing, no cache: the baseline;
- `metrics`: the default (Prometheus metrics on);
- `tracing`: metrics, plus OpenTelemetry spans exported over OTLP/HTTP to a sink that
  answers 200 and discards (the exporter's thread runs in the gateway and is counted);
- `cache-miss`: metrics, `X-Tokenport-Cache: true` on a request with temperature 0.7: the
  lookup (normalise, hash, miss) on every request, never a store;
- `cache-hit`: metrics, `X-Tokenport-Cache: true`, temperature 0: every request after the
  first is answered from the in-memory cache, no upstream call;
- `sampled`: metrics, the `cache-miss` body (temperature 0.7) without the cache header;
- `off-w2`, `metrics-w2`: two workers, where metrics use prometheus-client's multiprocess
  mode (mmap files), the gateway on all CPUs.

Then `bench/observe_micro.py` times exactly the per-request calls of each (metrics with
in-memory and with multiprocess values, tracing's spans, a cache lookup), and each is
divided by `off`'s CPU per request from this same run: the end-to-end ratios on a shared
machine move by more than these costs between rounds.

Goal (issue 15): metrics on cost under 5% of CPU per request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import phases  # noqa: E402
from bench.procs import free_port, pinned, spawn, stop, tree_cpu, wait_ready  # noqa: E402
from bench.run import MOCK, Pins  # noqa: E402
from bench.systems import _tokenport_config  # noqa: E402
from tokenport.lab.launch import serve_argv  # noqa: E402

VARIANTS = (
    "off",
    "metrics",
    "tracing",
    "cache-miss",
    "sampled",
    "cache-hit",
    "off-w2",
    "metrics-w2",
)
MODEL = "mock0/mock-model"
CONNECTIONS = 32


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=6.0, help="seconds measured per variant")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "observe_cost.json")
    args = p.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variants {bad}; known: {', '.join(VARIANTS)}")
    if "off" not in args.variants:
        p.error("the ratios need the `off` variant")
    return args


def _config(work: Path, mock_port: int, variant: str, sink: str) -> Path:
    path = _tokenport_config(work, {"mock0": mock_port}, None, "process")
    extra = []
    if variant.startswith("off"):
        extra += ["[metrics]", "enabled = false"]
    if variant == "tracing":
        extra += ["[tracing]", "enabled = true", f'endpoint = "{sink}"']
    path.write_text(path.read_text() + "\n".join(extra) + "\n")
    return path


def _load_args(variant: str) -> list[str]:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
        "max_tokens": 16,
    }
    if variant == "sampled":  # the cache-miss body without the cache: what the lookup adds
        body["temperature"] = 0.7
    if not variant.startswith("cache"):
        return ["--body", json.dumps(body)]
    body["temperature"] = 0.7 if variant == "cache-miss" else 0
    return ["--body", json.dumps(body), "--header", "X-Tokenport-Cache: true"]


def measure(
    variant: str, mock_port: int, work: Path, pins: Pins, args: argparse.Namespace, sink: str
) -> dict[str, float]:
    work.mkdir(parents=True)
    workers = 2 if variant.endswith("-w2") else 1
    config = _config(work, mock_port, variant, sink)
    port = free_port()
    cmd = serve_argv(config, port, "--log-level", "warning", "--workers", str(workers))
    proc = spawn(cmd, work / "server.log", cpus=pins.system(workers), cwd=work)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", proc, 60, work / "server.log")
        url = base + "/v1/chat/completions"
        common = ["--url", url, "--model", MODEL, "--connections", str(CONNECTIONS)]
        load = _load_args(variant)
        phases.loadgen(pins.load, "closed", *common, "--duration", "1.5", *load)
        cpu0 = tree_cpu(proc.pid)
        out = phases.loadgen(pins.load, "closed", *common, "--duration", str(args.duration), *load)
        cpu = tree_cpu(proc.pid) - cpu0
        if out["errors"]:
            raise RuntimeError(f"{variant}: {out['errors']} errors ({out['statuses']})")
        return {"cpu_ms_per_request": cpu * 1000 / out["ok"], "rps": float(out["rps"])}
    finally:
        stop(proc)


def micro(pins: Pins, work: Path) -> dict[str, float]:
    """bench/observe_micro.py twice (in-memory, then multiprocess metrics), on the CPU the
    gateway runs on."""
    script = Path(__file__).resolve().parent / "observe_micro.py"
    out: dict[str, float] = {}
    for mp in (False, True):
        env = dict(os.environ)
        if mp:
            folder = work / "micro-mp"
            folder.mkdir(parents=True, exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        cmd = pinned([sys.executable, str(script)], pins.system(1))
        got = json.loads(
            subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        )
        for k, v in got.items():
            if k != "multiprocess":
                out[f"{k.removesuffix('_us')}{'_multiprocess' if mp else ''}_us"] = v
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pins = Pins(True)
    work = Path(tempfile.mkdtemp(prefix="tokenport-observe-"))
    mock_port = free_port()
    mock = spawn(
        [sys.executable, str(MOCK), "--port", str(mock_port)], work / "mock.log", cpus=pins.load
    )
    sink_server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink_server.serve_forever, daemon=True).start()
    sink = f"http://127.0.0.1:{sink_server.server_address[1]}/v1/traces"
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    try:
        wait_ready(f"http://127.0.0.1:{mock_port}/health", mock, 20, work / "mock.log")
        for r in range(args.rounds):
            for v in args.variants:
                got = measure(v, mock_port, work / f"{v}-{r}", pins, args, sink)
                rounds[v].append(got)
                print(
                    f"round {r + 1}/{args.rounds} {v:10s} CPU {got['cpu_ms_per_request']:.4f} "
                    f"ms/request  {got['rps']:8.1f} RPS",
                    flush=True,
                )
        in_process = micro(pins, work)
    finally:
        stop(mock)
        sink_server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for v, xs in rounds.items():
        base = "off-w2" if v.endswith("-w2") and "off-w2" in rounds else "off"
        ratios = [
            x["cpu_ms_per_request"] / b["cpu_ms_per_request"]
            for x, b in zip(xs, rounds[base], strict=True)
        ]
        summary[v] = {
            "cpu_ms_per_request": statistics.median(x["cpu_ms_per_request"] for x in xs),
            "rps": statistics.median(x["rps"] for x in xs),
            "vs": base,
            "ratio": statistics.median(ratios),
            "ratios": [round(x, 4) for x in ratios],
        }
    print(f"\nmedian over {args.rounds} rounds (ratio: CPU per request / the same round's off):")
    for v, s in summary.items():
        print(
            f"  {v:10s} {s['cpu_ms_per_request']:.4f} ms/request  {s['rps']:8.1f} RPS  "
            f"x{s['ratio']:.3f} vs {s['vs']}  (per round: {s['ratios']})"
        )
    off_us = summary["off"]["cpu_ms_per_request"] * 1000
    print(f"\nper-request work timed in-process, as a share of off's {off_us:.0f} us/request:")
    shares = {}
    for k, us in in_process.items():
        shares[k] = us / off_us
        print(f"  {k:36s} {us:7.2f} us  {100 * us / off_us:5.1f}%")
    summary["in_process_us"] = in_process  # type: ignore[assignment]
    summary["in_process_share_of_off"] = shares  # type: ignore[assignment]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "rounds": rounds,
                "summary": summary,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
