"""A/B latency of tokenport variants at one fixed rate, in interleaved rounds.

    python bench/ab.py                                  # fsync vs process vs tmpfs, 500 RPS
    python bench/ab.py --variants fsync,tmpfs --rounds 7 --rate 500 --duration 10

Why: on a shared VM a single run's p99 swings by 2-3x from one minute to the next, so a
difference between two configurations only means something when they alternate, round after
round, against the same mock. Each round starts a fresh `tokenport serve` (one worker, pinned
like bench/run.py), warms it up, then runs the open-loop load generator at `--rate`.

Variants:
- `direct`: the load generator straight to the mock (the figure "added" latency subtracts);
- `fsync`: the default ledger (`ledger_sync = "fsync"`), journal and SQLite on the disk;
- `process`: `ledger_sync = "process"` (acknowledged after the OS write, fsynced within 50 ms);
- `tmpfs`: the default fsync ledger with `data_dir` on /dev/shm, where fsync costs nothing.
  It is not a deployment option (tmpfs does not survive a reboot): it separates what the
  gateway's own code adds from what the disk's flush adds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import free_port, spawn, stop, wait_ready  # noqa: E402
from bench.run import MOCK, Pins  # noqa: E402
from bench.systems import _tokenport_config  # noqa: E402

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
VARIANTS = ("direct", "fsync", "process", "tmpfs")
SHM = Path("/dev/shm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", default="direct,fsync,process,tmpfs")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ab.json")
    args = p.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variants {bad}; known: {', '.join(VARIANTS)}")
    if "tmpfs" in args.variants and not SHM.is_dir():
        p.error("the tmpfs variant needs /dev/shm")
    return args


def loadgen(cpus: str | None, url: str, *extra: str) -> dict[str, object]:
    cmd = [sys.executable, str(LOADGEN), *extra, "--url", url, "--model", "mock0/mock-model"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out: dict[str, object] = json.loads(done.stdout)
    return out


def measure(
    variant: str, mock_port: int, work: Path, pins: Pins, args: argparse.Namespace
) -> dict[str, float]:
    rate = ["rate", "--rate", str(args.rate), "--duration", str(args.duration)]
    if variant == "direct":
        url = f"http://127.0.0.1:{mock_port}/v1/chat/completions"
        loadgen(pins.load, url, "closed", "--duration", "2")
        return summary(loadgen(pins.load, url, *rate))
    data = Path(tempfile.mkdtemp(dir=SHM)) if variant == "tmpfs" else work / "data"
    work.mkdir(parents=True)
    config = _tokenport_config(
        work, {"mock0": mock_port}, None, "process" if variant == "process" else "fsync"
    )
    config.write_text(config.read_text().replace(str(work / "data"), str(data)))
    port = free_port()
    cmd = [sys.executable, "-m", "tokenport", "serve", "--no-local", "--config", str(config)]
    cmd += ["--port", str(port), "--log-level", "warning"]
    proc = spawn(cmd, work / "server.log", cpus=pins.system(1), cwd=work)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", proc, 60, work / "server.log")
        url = base + "/v1/chat/completions"
        loadgen(pins.load, url, "closed", "--duration", "3")
        return summary(loadgen(pins.load, url, *rate))
    finally:
        stop(proc)
        if variant == "tmpfs":
            shutil.rmtree(data, ignore_errors=True)


def summary(out: dict[str, object]) -> dict[str, float]:
    lat = out["latency_ms"]
    assert isinstance(lat, dict)
    return {k: float(lat[k]) for k in ("p50", "p90", "p99", "max")} | {
        "errors": float(out.get("errors", 0) or 0)  # type: ignore[arg-type]
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pins = Pins(True)
    work = Path(tempfile.mkdtemp(prefix="tokenport-ab-"))
    mock_port = free_port()
    mock = spawn(
        [sys.executable, str(MOCK), "--port", str(mock_port)], work / "mock.log", cpus=pins.load
    )
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    try:
        wait_ready(f"http://127.0.0.1:{mock_port}/health", mock, 20, work / "mock.log")
        for r in range(args.rounds):
            for v in args.variants:
                got = measure(v, mock_port, work / f"{v}-{r}", pins, args)
                rounds[v].append(got)
                print(
                    f"round {r + 1}/{args.rounds} {v:8s} p50 {got['p50']:6.2f}"
                    f"  p99 {got['p99']:6.2f}  max {got['max']:7.2f} ms"
                    f"  errors {int(got['errors'])}",
                    flush=True,
                )
    finally:
        stop(mock)
        shutil.rmtree(work, ignore_errors=True)
    med = {
        v: {k: statistics.median(x[k] for x in xs) for k in ("p50", "p99")}
        for v, xs in rounds.items()
    }
    print(f"\nmedian over {args.rounds} rounds at {args.rate:g} RPS, absolute ms:")
    for v, m in med.items():
        added = ""
        if "direct" in med and v != "direct":
            d50, d99 = (m[k] - med["direct"][k] for k in ("p50", "p99"))
            added = f"   added (minus direct) p50 {d50:.2f}  p99 {d99:.2f}"
        p99s = ", ".join(f"{x['p99']:.1f}" for x in rounds[v])
        print(f"  {v:8s} p50 {m['p50']:.2f}  p99 {m['p99']:.2f}{added}   (p99 per round: {p99s})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "rounds": rounds, "median": med},
            indent=1,
        )
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
