"""Added latency and time to first token through each front door, in interleaved rounds.

    python bench/doors.py                        # 5 rounds, 300 RPS, 8 s each, streams at 30 RPS
    python bench/doors.py --rounds 3 --rate 500 --duration 10

One `tokenport serve` (one worker, pinned like bench/run.py) in front of bench/mock.py, an
OpenAI-compatible upstream. Each round sends the same one-sentence request through every
door in turn: straight to the mock (`direct`, what "added" subtracts), `/v1/chat/completions`,
`/v1/messages` (an Anthropic body, translated to the mock's chat) and `/v1/responses` (a
Responses body, the same). Then the same again streamed, for time to first token. Doors
alternate within each round, so drift on a shared machine hits all of them alike.

Targets (issue 12): added latency through /v1/messages and /v1/responses within 20% of
/v1/chat/completions; streaming TTFT overhead of each door at most 1 ms p50 over chat's.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procs import free_port, spawn, stop, wait_ready  # noqa: E402
from bench.run import MOCK, Pins  # noqa: E402
from bench.systems import _tokenport_config  # noqa: E402

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
PROMPT = "Say hello to the benchmark."
DOORS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16},
    ),
    "messages": (
        "/v1/messages",
        {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16},
    ),
    "responses": ("/v1/responses", {"input": PROMPT, "max_output_tokens": 16, "store": False}),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rate", type=float, default=300.0, help="non-streamed requests per second")
    p.add_argument("--stream-rate", type=float, default=30.0, help="streamed requests per second")
    p.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "doors.json")
    return p.parse_args(argv)


def loadgen(cpus: str | None, url: str, body: dict[str, Any], *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, str(LOADGEN), *extra, "--url", url, "--model", "mock0/mock-model"]
    cmd += ["--body", json.dumps(body)]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out: dict[str, Any] = json.loads(done.stdout)
    if out["errors"]:
        raise RuntimeError(f"{url}: {out['errors']} errors ({out['statuses']})")
    return out


def measure(
    pins: Pins, url: str, body: dict[str, Any], args: argparse.Namespace
) -> dict[str, float]:
    plain = loadgen(
        pins.load, url, body, "rate", "--rate", str(args.rate), "--duration", str(args.duration)
    )
    streamed = loadgen(
        pins.load,
        url,
        body,
        "rate",
        "--stream",
        "--rate",
        str(args.stream_rate),
        "--duration",
        str(args.duration),
    )
    return {
        "p50": plain["latency_ms"]["p50"],
        "p99": plain["latency_ms"]["p99"],
        "ttft_p50": streamed["ttft_ms"]["p50"],
        "ttft_p99": streamed["ttft_ms"]["p99"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pins = Pins(True)
    work = Path(tempfile.mkdtemp(prefix="tokenport-doors-"))
    mock_port, port = free_port(), free_port()
    mock = spawn(
        [sys.executable, str(MOCK), "--port", str(mock_port)], work / "mock.log", cpus=pins.load
    )
    config = _tokenport_config(work, {"mock0": mock_port}, None, "fsync")
    cmd = [sys.executable, "-m", "tokenport", "serve", "--no-local", "--config", str(config)]
    cmd += ["--port", str(port), "--log-level", "warning"]
    server = spawn(cmd, work / "server.log", cpus=pins.system(1), cwd=work)
    names = ["direct", *DOORS]
    rounds: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    try:
        wait_ready(f"http://127.0.0.1:{mock_port}/health", mock, 20, work / "mock.log")
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", server, 60, work / "server.log")
        for path, body in DOORS.values():  # warm every door's code path
            loadgen(pins.load, base + path, body, "closed", "--duration", "2")
        for r in range(args.rounds):
            for name in names:
                if name == "direct":
                    url, body = (
                        f"http://127.0.0.1:{mock_port}/v1/chat/completions",
                        DOORS["chat"][1],
                    )
                else:
                    url, body = base + DOORS[name][0], DOORS[name][1]
                got = measure(pins, url, body, args)
                rounds[name].append(got)
                print(
                    f"round {r + 1}/{args.rounds} {name:9s} p50 {got['p50']:6.2f} "
                    f"p99 {got['p99']:6.2f}  ttft p50 {got['ttft_p50']:6.2f} ms",
                    flush=True,
                )
    finally:
        stop(server)
        stop(mock)
        shutil.rmtree(work, ignore_errors=True)
    report = summarize(rounds, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rounds": rounds, "summary": report}, indent=1))
    print(f"wrote {args.out}")
    return 0


def summarize(
    rounds: dict[str, list[dict[str, float]]], args: argparse.Namespace
) -> dict[str, Any]:
    med = {n: {k: statistics.median(x[k] for x in xs) for k in xs[0]} for n, xs in rounds.items()}
    added = {n: med[n]["p50"] - med["direct"]["p50"] for n in DOORS}
    added99 = {n: med[n]["p99"] - med["direct"]["p99"] for n in DOORS}
    ttft = {n: med[n]["ttft_p50"] - med["direct"]["ttft_p50"] for n in DOORS}
    print(
        f"\nmedian of {args.rounds} rounds; {args.rate:g} RPS plain, {args.stream_rate:g} streamed"
    )
    print("door        added p50   added p99   vs chat (p50)   TTFT overhead p50   vs chat")
    out: dict[str, Any] = {}
    for n in DOORS:
        ratio = added[n] / added["chat"] if added["chat"] > 0 else float("nan")
        extra_ttft = ttft[n] - ttft["chat"]
        out[n] = {
            "added_p50_ms": round(added[n], 3),
            "added_p99_ms": round(added99[n], 3),
            "added_vs_chat": round(ratio, 3),
            "ttft_overhead_p50_ms": round(ttft[n], 3),
            "ttft_vs_chat_ms": round(extra_ttft, 3),
        }
        print(
            f"{n:10s} {added[n]:8.2f} ms {added99[n]:8.2f} ms   {ratio:10.2f}x"
            f"       {ttft[n]:8.2f} ms     {extra_ttft:+6.2f} ms"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
