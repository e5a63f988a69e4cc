"""tokenport's benchmark: gateway overhead, throughput and memory, side by side with LiteLLM.

    python bench/run.py --quick          # every system, workers 1 and 2, in about 3 minutes
    python bench/run.py                  # the full run (1M requests per system for the leak check)
    python bench/run.py --quick --systems tokenport-sqlite --workers 1

Writes bench/out/results.json, bench/out/results.png and prints the table. See README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from bench import peers, phases, report, systems  # noqa: E402
from bench.procs import (  # noqa: E402
    NotMeasurable,
    RssSampler,
    busy_fraction,
    disk_flush_ms,
    free_port,
    loadavg,
    spawn,
    stop,
    wait_ready,
)

MOCK = Path(__file__).resolve().parent / "mock.py"
STREAM_CHUNKS = 20
CHUNK_INTERVAL_MS = 5.0
console = Console()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short phases (about 3 minutes)")
    p.add_argument("--smoke", action="store_true", help="seconds-long run for the CI smoke test")
    p.add_argument("--systems", default=",".join(systems.SYSTEMS), help="comma-separated")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--leak-requests", type=int, help="override the leak check's request count")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    return p.parse_args(argv)


def profile_for(args: argparse.Namespace) -> phases.Profile:
    if args.smoke:
        prof = phases.Profile("smoke", 0.5, 1.0, 2, 0, 0, 3.0, 1.0, (100,), 50, 20, 1.0, 16)
    else:
        prof = phases.QUICK if args.quick else phases.FULL
    if args.leak_requests is not None:
        base = min(prof.leak_baseline, args.leak_requests // 10)
        fields = {"leak_requests": args.leak_requests, "leak_baseline": base}
        prof = dataclasses.replace(prof, **fields)
    return prof


class Pins:
    """CPU placement on a small machine; see README (pinning)."""

    def __init__(self, enabled: bool) -> None:
        n = os.cpu_count() or 1
        self.enabled = enabled and n >= 2
        self.n = n

    @property
    def load(self) -> str | None:
        return str(self.n - 1) if self.enabled else None  # mock + load generator

    def system(self, workers: int) -> str | None:
        if not self.enabled:
            return None
        if workers < self.n:
            return ",".join(str(i) for i in range(workers))
        return f"0-{self.n - 1}"

    def describe(self) -> str:
        if not self.enabled:
            return "no pinning"
        return (
            f"mocks and load generator on CPU {self.load}; the system under test on CPUs "
            f"0..workers-1 (workers=1: CPU 0 alone; workers>={self.n}: all CPUs, sharing "
            f"CPU {self.load} with the mock and load generator); PostgreSQL unpinned"
        )


@contextlib.contextmanager
def mocks(workdir: Path, cpus: str | None) -> Iterator[dict[str, int]]:
    procs = []
    ports: dict[str, int] = {}
    try:
        for name, latency in (("mock0", 0), ("mock50", 50)):
            port = free_port()
            cmd = [
                sys.executable,
                str(MOCK),
                "--port",
                str(port),
                "--latency-ms",
                str(latency),
                "--stream-chunks",
                str(STREAM_CHUNKS),
                "--chunk-interval-ms",
                str(CHUNK_INTERVAL_MS),
            ]
            log = workdir / f"{name}.log"
            proc = spawn(cmd, log, cpus=cpus)
            procs.append(proc)
            wait_ready(f"http://127.0.0.1:{port}/health", proc, 20, log)
            ports[name] = port
        yield ports
    finally:
        for proc in procs:
            stop(proc)


def baseline(
    ports: dict[str, int], prof: phases.Profile, cpus: str | None, tick: Callable[[], None]
) -> dict[str, Any]:
    """The same phases straight at the mocks: the reference for every overhead figure."""

    def url(model: str) -> str:
        return f"http://127.0.0.1:{ports[model.split('/')[0]]}/v1/chat/completions"

    fast = url(phases.FAST_MODEL)
    phases.closed(fast, cpus, prof.warmup_s, prof.connections, phases.FAST_MODEL)
    ceiling = phases.closed(fast, cpus, prof.segment_s, prof.connections, phases.FAST_MODEL)
    tick()
    rates = phases.fixed_rates(url, cpus, prof, None, tick)
    stream = phases.streaming(url, cpus, prof, None)
    tick()
    return {
        "mock_ceiling_rps": ceiling["rps"],
        "mock_ceiling": ceiling,
        "note": (
            "mock and load generator share one CPU here, so this is a floor for the ceiling "
            "of each of them"
        ),
        "rates": rates,
        "stream": stream,
    }


def run_system(
    key: str,
    workers: int,
    ports: dict[str, int],
    prof: phases.Profile,
    pins: Pins,
    workdir: Path,
    base: dict[str, Any],
    progress: Progress,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "system": key,
        "workers": workers,
        "description": systems.SYSTEMS[key].description,
    }
    task = progress.add_task(f"{key} w={workers}: starting", total=None)
    t0 = time.monotonic()
    try:
        running = systems.start(
            key, workers, ports, workdir / f"{key}-w{workers}", pins.system(workers)
        )
    except NotMeasurable as exc:
        progress.remove_task(task)
        return {**entry, "status": "not_measurable", "reason": str(exc)}
    except RuntimeError as exc:
        progress.remove_task(task)
        return {**entry, "status": "failed", "reason": str(exc)}
    try:
        with RssSampler(running.proc.pid) as rss:
            raw = _measure(running, prof, pins, base, progress, task)
        entry.update(_derive(raw, base, prof))
        entry["peak_rss_mb"] = round(rss.peak / 2**20, 1)
        entry["startup_s"] = round(running.startup_s, 2)
        entry["status"] = "ok"
        entry["raw"] = raw
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        entry.update(status="failed", reason=f"{exc}")
    finally:
        progress.update(task, description=f"{key} w={workers}: stopping")
        running.stop()
        progress.remove_task(task)
        entry["elapsed_s"] = round(time.monotonic() - t0, 1)
    return entry


def _measure(
    running: systems.Running,
    prof: phases.Profile,
    pins: Pins,
    base: dict[str, Any],
    progress: Progress,
    task: Any,
) -> dict[str, Any]:
    url, cpus = running.chat_url, pins.load
    name = f"{running.spec.key} w={running.workers}"
    total = max(prof.leak_requests, 1)
    progress.update(task, description=f"{name}: warm-up", total=None)
    phases.closed(url, cpus, prof.warmup_s, prof.connections, phases.FAST_MODEL)
    progress.update(task, description=f"{name}: saturation + leak check", total=total, completed=0)
    sustained = phases.sustained(
        url,
        cpus,
        prof,
        running.proc.pid,
        running.backlog,
        lambda n: progress.update(task, completed=min(n, total)),
    )
    progress.update(
        task, description=f"{name}: fixed rates", total=len(prof.rates) + 1, completed=0
    )
    rates = phases.fixed_rates(
        lambda _m: url,
        cpus,
        prof,
        sustained["saturation_rps"],
        lambda: progress.advance(task),
    )
    progress.update(task, description=f"{name}: streaming TTFT", total=None)
    stream = phases.streaming(lambda _m: url, cpus, prof, sustained["saturation_rps"])
    return {"sustained": sustained, "rates": rates, "stream": stream}


def _derive(raw: dict[str, Any], base: dict[str, Any], prof: phases.Profile) -> dict[str, Any]:
    sus, rates, stream = raw["sustained"], raw["rates"], raw["stream"]
    done = [r for r in rates.values() if "skipped" not in r] + [stream]
    requests = sus["requests"] + sum(r["requests"] for r in done)
    errors = sus["errors"] + sum(r["errors"] for r in done)
    return {
        "saturation_rps": sus["saturation_rps"],
        "cpu_ms_per_request": sus["cpu_ms_per_request"],
        "added_latency_ms": report.added_latency(rates, base["rates"]),
        "ttft_overhead_ms": report.ttft_overhead(stream, base["stream"]),
        "ttft_ms": stream.get("ttft_ms"),
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / max(1, requests), 6),
        "rss_leak": {
            **phases.leak_check(sus["segments"], prof.leak_baseline),
            "target_requests": prof.leak_requests,
            "reached": sus["reached_leak_requests"],
        },
        "ledger": report.ledger_summary(sus),
    }


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for pkg in ("tokenport", "uvicorn", "starlette", "aiohttp", "uvloop", "httptools", "msgspec"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    out["litellm"] = peers.installed_version("litellm")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prof = profile_for(args)
    keys = [k.strip() for k in args.systems.split(",") if k.strip()]
    unknown = [k for k in keys if k not in systems.SYSTEMS]
    if unknown:
        console.print(f"[red]unknown systems: {unknown}; known: {list(systems.SYSTEMS)}[/red]")
        return 2
    worker_counts = [int(w) for w in args.workers.split(",")]
    pins = Pins(not args.no_pin)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tokenport-bench-"))
    noise_before = {
        "busy_fraction_idle_probe": busy_fraction(1.0),
        "loadavg": loadavg(),
        "disk_fsync_ms": disk_flush_ms(workdir),
    }
    t0 = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
            "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "profile": {
                **{k: v for k, v in vars(prof).items() if k != "rates"},
                "rates": list(prof.rates),
            },
            "machine": machine(),
            "pinning": pins.describe(),
            "mock": {
                "stream_chunks": STREAM_CHUNKS,
                "chunk_interval_ms": CHUNK_INTERVAL_MS,
                "latencies_ms": {"mock0": 0, "mock50": 50},
            },
            "workdir": str(workdir),
        },
        "systems": [],
    }
    litellm_error = None
    if any(systems.SYSTEMS[k].family == "litellm" for k in keys):
        with console.status(f"Installing litellm[proxy]=={peers.LITELLM_VERSION} (first run)"):
            try:
                peers.ensure_litellm(args.out / "litellm-install.log")
            except (peers.PeerUnavailable, subprocess.TimeoutExpired) as exc:
                litellm_error = str(exc)
    results["meta"]["versions"] = versions()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console, transient=True) as progress,
        mocks(workdir, pins.load) as ports,
    ):
        n_base = len(prof.rates) + 3
        btask = progress.add_task("direct to the mock (baseline)", total=n_base)
        base = baseline(ports, prof, pins.load, lambda: progress.advance(btask))
        progress.remove_task(btask)
        results["baseline"] = base
        for workers in worker_counts:
            for key in keys:
                if litellm_error and systems.SYSTEMS[key].family == "litellm":
                    results["systems"].append(
                        {
                            "system": key,
                            "workers": workers,
                            "status": "failed",
                            "reason": litellm_error,
                        }
                    )
                    continue
                results["systems"].append(
                    run_system(key, workers, ports, prof, pins, workdir, base, progress)
                )
    _judge(results)
    results["meta"]["other_load"] = {
        "before": noise_before,
        "after": {
            "busy_fraction_idle_probe": busy_fraction(1.0),
            "loadavg": loadavg(),
            "disk_fsync_ms": disk_flush_ms(workdir),
        },
        "note": "CPU busy over 1 s while the benchmark ran nothing: load from other processes; "
        "disk_fsync_ms: one small append + fsync in the systems' temp dir (the journal's flush)",
    }
    results["meta"]["duration_s"] = round(time.monotonic() - t0, 1)
    (args.out / "results.json").write_bytes(msgspec.json.format(msgspec.json.encode(results)))
    report.print_summary(results, console)
    report.chart(results, args.out / "results.png")
    (args.out / "results.md").write_text(report.markdown(results))
    console.print(
        f"wrote {args.out / 'results.json'} and {args.out / 'results.png'} "
        f"in {results['meta']['duration_s']:.0f}s"
    )
    bad = [e for e in results["systems"] if e["status"] == "ok" and e["errors"]]
    return 1 if bad else 0


def _judge(results: dict[str, Any]) -> None:
    ok = [e for e in results["systems"] if e["status"] == "ok"]
    for e in ok:
        if not e["system"].startswith("tokenport"):
            continue
        peer = next(
            (p for p in ok if p["system"] == "litellm" and p["workers"] == e["workers"]), None
        )
        e["targets"] = report.targets(e, peer)


if __name__ == "__main__":
    sys.exit(main())
