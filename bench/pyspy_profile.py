"""Profile tokenport's hot path under load with py-spy (`pip install py-spy`).

    python bench/pyspy_profile.py [--seconds 10] [--system tokenport-sqlite] [--rate 0]

Starts the mock and one tokenport worker (pinned like the benchmark), drives it with the
load generator (closed loop, or `--rate` RPS open loop), samples the worker with py-spy and
writes bench/out/profile.svg (flame graph) and bench/out/profile.txt (collapsed stacks),
then prints the functions with the most samples, inclusive and self. It also prints the
CPU time the worker spent per request, the figure that optimizations should move.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import phases, systems  # noqa: E402
from bench.procs import tree, tree_cpu  # noqa: E402
from bench.run import Pins, mocks  # noqa: E402


def _frame(f: str) -> str:
    name, _, where = f.partition(" (")
    return f"{name} ({where.split(':')[0].split('/')[-1]}" + ")" if where else name


def summarize(raw: Path, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")[1:]]
        total += n
        for f in set(frames):
            inclusive[f] += n
        if frames:
            own[frames[-1]] += n
    out = [f"{total} samples", "--- inclusive"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    out += ["--- self"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--system", default="tokenport-sqlite")
    p.add_argument("--rate", type=float, default=0.0, help="open-loop RPS; 0 = closed loop")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = p.parse_args(argv)
    pyspy = shutil.which("py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    pins = Pins(True)
    workdir = Path(tempfile.mkdtemp(prefix="tokenport-profile-"))
    with mocks(workdir, pins.load) as ports:
        running = systems.start(args.system, 1, ports, workdir / "sut", pins.system(1))
        try:
            url = running.chat_url
            phases.closed(url, pins.load, 2.0, 50, phases.FAST_MODEL)
            worker = tree(running.proc.pid)[-1]
            load = threading.Thread(target=_load, args=(url, pins.load, args), daemon=True)
            cpu0 = tree_cpu(running.proc.pid)
            load.start()
            time.sleep(1.0)
            if pyspy:
                for fmt, name in (("raw", "profile.txt"), ("flamegraph", "profile.svg")):
                    cmd = [
                        pyspy,
                        "record",
                        "-p",
                        str(worker),
                        "-d",
                        str(max(1, int(args.seconds / 2))),
                        "-r",
                        "100",
                        "--nonblocking",
                        "-f",
                        fmt,
                        "-o",
                        str(args.out / name),
                    ]
                    spy = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    if spy.returncode != 0:
                        print(f"py-spy failed: {spy.stderr.strip()[-500:]}")
            else:
                print("py-spy not found (pip install py-spy); measuring CPU only")
                time.sleep(args.seconds)
            load.join()
            cpu = tree_cpu(running.proc.pid) - cpu0
            done = _RESULT.get("ok", 0)
            print(
                f"{done} requests, {_RESULT.get('rps')} RPS, "
                f"{1000 * cpu / max(1, done):.3f} ms CPU per request (all processes)"
            )
        finally:
            running.stop()
    if pyspy and (args.out / "profile.txt").exists():
        print(summarize(args.out / "profile.txt", args.top))
        print(f"flame graph: {args.out / 'profile.svg'}")
    return 0


_RESULT: dict[str, float] = {}


def _load(url: str, cpus: str | None, args: argparse.Namespace) -> None:
    seconds = args.seconds + 3.0
    if args.rate > 0:
        r = phases.rate(url, cpus, args.rate, seconds, phases.FAST_MODEL)
    else:
        r = phases.closed(url, cpus, seconds, 50, phases.FAST_MODEL)
    _RESULT.update(ok=r["ok"], rps=r["rps"])


if __name__ == "__main__":
    sys.exit(main())
