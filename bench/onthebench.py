"""What agent traffic needs from a gateway, measured the way the public gateway benchmark
On the Bench (GetBusbar/benchmarking) does, side by side in one run.

    python bench/onthebench.py --quick                        # tokenport + bare, ~2-3 minutes
    python bench/onthebench.py                                # longer phases (~10 minutes)
    python bench/onthebench.py --quick --systems tokenport,bare,litellm,portkey

Per system, against two mocks (bench/mock.py): `mock0` answers at once and streams 64
frames 20 ms apart, `mock20` answers after 20 ms.
- added p50/p99 at concurrency 1 (closed loop, one connection, mock0), minus direct;
- the RPS frontier: the highest open-loop rate whose added p99 (minus direct at the same
  rate) stays under 1, 5, 10 and 50 ms with mock20, from a doubling ladder and a short
  bisection; a rate with >= 0.1% errors fails;
- SSE streams sustained: the largest N of a ladder at which N connections, each streaming
  64 frames 20 ms apart, lose no frame, stall no gap over 200 ms and fail < 0.1%;
- chat RPS and translated RPS (an Anthropic Messages body on /v1/messages, the OpenAI-shaped
  mock0 upstream) at saturation, closed loop;
- RSS of the process tree: idle after start, peak under the saturation load, peak during
  the stream ladder, recovered after a few idle seconds (5 s quick, 30 s full).

Writes bench/out/onthebench.json and .md and prints the Markdown table. See README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/onthebench.py` puts bench/, not the repo, first
    sys.path.insert(0, str(ROOT))

from bench import onthebench_phases as ph  # noqa: E402
from bench import peers, systems  # noqa: E402
from bench.procs import (  # noqa: E402
    NotMeasurable,
    RssSampler,
    busy_fraction,
    disk_flush_ms,
    free_port,
    loadavg,
    spawn,
    stop,
    tree_rss,
    wait_ready,
)
from bench.run import MOCK, Pins, machine  # noqa: E402

BARE = Path(__file__).resolve().parent / "bare_proxy.py"
PEERS = {"tokenport": "tokenport-sqlite", "litellm": "litellm", "portkey": "portkey"}
KNOWN = ("tokenport", "bare", "litellm", "portkey")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short phases (~2-3 min for two)")
    p.add_argument("--smoke", action="store_true", help="seconds-long run for the smoke test")
    p.add_argument("--systems", default="tokenport,bare", help=f"comma-separated of {KNOWN}")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "onthebench.json")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    return p.parse_args(argv)


def _profile(args: argparse.Namespace) -> ph.Profile:
    return ph.SMOKE if args.smoke else ph.QUICK if args.quick else ph.FULL


class Rig:
    """The two mocks and every process started for the run; `close` stops them all."""

    def __init__(self, work: Path, pins: Pins) -> None:
        self.work, self.pins = work, pins
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}

    def start_mocks(self) -> None:
        for name, latency in (("mock0", 0), ("mock20", 20)):
            port = free_port()
            cmd = [sys.executable, str(MOCK), "--port", str(port), "--latency-ms", str(latency)]
            cmd += ["--stream-chunks", str(ph.STREAM_FRAMES)]
            cmd += ["--chunk-interval-ms", str(ph.FRAME_INTERVAL_MS)]
            log = self.work / f"{name}.log"
            proc = self.spawn(cmd, log, self.pins.load)
            wait_ready(f"http://127.0.0.1:{port}/health", proc, 20, log)
            self.ports[name] = port

    def spawn(self, cmd: list[str], log: Path, cpus: str | None) -> subprocess.Popen[bytes]:
        proc = spawn(cmd, log, cpus=cpus, cwd=self.work)
        self.procs.append(proc)
        return proc

    def mock_url(self, model: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[model.split('/')[0]]}{path}"

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


def start_bare(rig: Rig) -> tuple[ph.Target, Callable[[], None]]:
    """bench/bare_proxy.py has one upstream, so one bare proxy per mock; the mock0 one takes
    every phase but the frontier and is the one whose RSS and CPU are measured."""
    bases: dict[str, str] = {}
    procs = []
    for name, port in rig.ports.items():
        own = free_port()
        cmd = [sys.executable, str(BARE), "--port", str(own)]
        cmd += ["--upstream", f"http://127.0.0.1:{port}"]
        log = rig.work / f"bare-{name}.log"
        proc = rig.spawn(cmd, log, rig.pins.system(1))
        wait_ready(f"http://127.0.0.1:{own}/healthz", proc, 30, log)
        bases[name] = f"http://127.0.0.1:{own}"
        procs.append(proc)

    def url(model: str, path: str) -> str:
        return bases[model.split("/")[0]] + path

    why = "a byte pass-through: it has no Anthropic door and translates nothing"
    target = ph.Target("bare", url, procs[0].pid, translates=why)

    def stop_all() -> None:
        for proc in procs:
            stop(proc)

    return target, stop_all


def start_system(name: str, rig: Rig) -> tuple[ph.Target, Callable[[], None]]:
    if name == "bare":
        return start_bare(rig)
    running = systems.start(PEERS[name], 1, rig.ports, rig.work / name, rig.pins.system(1))
    base = running.base_url
    target = ph.Target(
        name,
        lambda _model, path: base + path,
        running.proc.pid,
        running.headers,
        running.stream_failure,
    )
    return target, running.stop


def probe_translation(t: ph.Target) -> str | None:
    """None if one /v1/messages request comes back as an Anthropic message; else what came."""
    body = json.dumps({"model": ph.FAST_MODEL, **ph.MESSAGES_BODY}).encode()
    h = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    h |= {"anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}
    h |= dict(line.split(": ", 1) for line in t.headers(ph.FAST_MODEL))
    req = urllib.request.Request(t.url(ph.FAST_MODEL, ph.MESSAGES), data=body, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        return f"no answer: {exc}"
    try:
        msg = json.loads(raw)
        ok = msg.get("type") == "message" and msg["content"][0]["text"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        ok = False
    return None if status == 200 and ok else f"HTTP {status}: {raw[:200].decode(errors='replace')}"


def measure(
    t: ph.Target,
    cpus: str | None,
    prof: ph.Profile,
    direct: dict[str, Any],
    direct_rate: Callable[[int], dict[str, Any]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.pid:
        time.sleep(1.0)
        out["rss_idle_mb"] = round(tree_rss(t.pid) / 2**20, 1)
    if t.name != "direct":
        ph.saturation(t, cpus, dataclasses.replace(prof, sat_s=prof.warmup_s))  # warm-up
        if t.translates is None:
            t.translates = probe_translation(t)
    c1 = ph.concurrency_1(t, cpus, prof)
    out["c1"] = c1
    if direct.get("c1"):
        d = direct["c1"]["latency_ms"]
        out["c1_added_ms"] = {q: round(c1["latency_ms"][q] - d[q], 3) for q in ("p50", "p99")}

    def at(rps: int) -> dict[str, Any]:
        mine = ph.open_rate(t, cpus, prof, rps)
        return ph.point(mine, direct_rate(rps) if t.name != "direct" else mine, rps)

    out["frontier"] = ph.frontier(at, prof) if t.name != "direct" else None
    rss = RssSampler(t.pid) if t.pid else None
    if rss is not None:
        rss.__enter__()
    try:
        out["chat"] = ph.saturation(t, cpus, prof)
        out["translated"] = None
        if t.translates is None and t.name != "direct":
            out["translated"] = ph.saturation(t, cpus, prof, ph.MESSAGES, ph.messages_body())
    finally:
        if rss is not None:
            rss.__exit__()
            out["rss_load_mb"] = round(rss.peak / 2**20, 1)
    out["translation_failure"] = t.translates if t.name != "direct" else None
    out["stream_failure"] = t.stream_failure
    out["streams"] = ph.streams(t, cpus, prof) if t.stream_failure is None else None
    if t.pid:
        time.sleep(prof.settle_s)
        out["rss_recovered_mb"] = round(tree_rss(t.pid) / 2**20, 1)
        out["recovered_after_s"] = prof.settle_s
    return out


def run(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    prof, pins = _profile(args), Pins(not args.no_pin)
    work = Path(tempfile.mkdtemp(prefix="tokenport-otb-"))
    results: dict[str, Any] = {"meta": _meta(prof, pins, work), "systems": {}}
    litellm_error = _install_litellm(args.out.parent) if "litellm" in names else None
    rig = Rig(work, pins)
    try:
        rig.start_mocks()
        direct_t = ph.Target("direct", rig.mock_url)
        rates: dict[int, dict[str, Any]] = {}

        def direct_rate(rps: int) -> dict[str, Any]:
            if rps not in rates:
                rates[rps] = ph.open_rate(direct_t, pins.load, prof, rps)
            return rates[rps]

        _say("direct (the mocks alone)")
        direct = measure(direct_t, pins.load, prof, {}, direct_rate)
        results["direct"] = direct
        for name in names:
            _say(name)
            results["systems"][name] = _one(name, rig, prof, direct, direct_rate, litellm_error)
        results["direct_rates"] = {str(k): v for k, v in sorted(rates.items())}
    finally:
        rig.close()
        shutil.rmtree(work, ignore_errors=True)  # logs and ledgers of this run only
    results["meta"]["busy_fraction_after"] = busy_fraction(1.0)
    results["meta"]["duration_s"] = round(time.monotonic() - results["meta"].pop("_t0"), 1)
    return results


def _one(
    name: str,
    rig: Rig,
    prof: ph.Profile,
    direct: dict[str, Any],
    direct_rate: Callable[[int], dict[str, Any]],
    litellm_error: str | None,
) -> dict[str, Any]:
    if name == "litellm" and litellm_error:
        return {"status": "not_measurable", "reason": litellm_error}
    t0 = time.monotonic()
    try:
        target, stop_it = start_system(name, rig)
    except NotMeasurable as exc:
        return {"status": "not_measurable", "reason": str(exc)}
    except RuntimeError as exc:
        return {"status": "failed", "reason": str(exc)}
    try:
        got = measure(target, rig.pins.load, prof, direct, direct_rate)
        return {"status": "ok", **got, "elapsed_s": round(time.monotonic() - t0, 1)}
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"status": "failed", "reason": str(exc)}
    finally:
        stop_it()


def _install_litellm(out: Path) -> str | None:
    _say(f"litellm[proxy]=={peers.LITELLM_VERSION}: installed unless already (first use: minutes)")
    try:
        peers.ensure_litellm(out / "litellm-install.log")
    except (peers.PeerUnavailable, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None


def _meta(prof: ph.Profile, pins: Pins, work: Path) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    return {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else ""),
        "profile": {**vars(prof), "ladder": list(prof.ladder)},
        "machine": machine(),
        "pinning": pins.describe(),
        "busy_fraction_before": busy_fraction(1.0),
        "loadavg_before": loadavg(),
        # tokenport's default ledger answers after a group fsync: at concurrency 1 this
        # disk wait is part of its added latency (the bare proxy writes nothing).
        "disk_fsync_ms": disk_flush_ms(work, n=100),
        "mocks": {
            "mock0": f"0 ms; streams {ph.STREAM_FRAMES} frames {ph.FRAME_INTERVAL_MS:g} ms apart",
            "mock20": "20 ms",
        },
        "_t0": time.monotonic(),
    }


def _say(text: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        print(f"unknown systems {unknown}; known: {list(KNOWN)}", file=sys.stderr)
        return 2
    from bench.onthebench_report import markdown

    results = run(args, names)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {args.out} in {results['meta']['duration_s']:.0f} s", file=sys.stderr)
    failed = [n for n, e in results["systems"].items() if e["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
