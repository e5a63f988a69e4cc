"""The cascade's own overhead and its cost in time to first token, through a real gateway.

    python bench/cascade.py                      # ~1 min: 400 decisions, 60 streams
    python bench/cascade.py --requests 1000 --streams 100

A gateway (in this process, uvicorn in a thread) with an `auto` pool in cascade mode, trained
on `data/routing/gsm8k.jsonl`, in front of two fake upstreams: `cheap` and `strong`. Each
request is a real GSM8K prompt; the cheap fake answers with Mixtral's recorded answer to it,
so the verifiers read real answers. Three measurements:

1. Decision overhead: the `auto.overhead_ms` each response reports: the prompt router, the
   plan, each stage's verifier numbers and trust model (model calls and the code sandbox
   excluded; the answer checks included). Target (issue 16): p99 < 2 ms.
2. Added latency end to end, fakes answering at once: the same prompt as `model: auto`
   (cascade, trusted: one cheap call) and straight to the cheap model, interleaved.
3. Time to first token, streamed, fakes with latency (the cheap answer takes `--cheap-ms`
   in full; the strong stream's first chunk `--strong-ms`): the strong model streamed
   directly vs the cascade held and trusted vs held and escalated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "routing" / "gsm8k.jsonl"
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--streams", type=int, default=60)
    p.add_argument("--cheap-ms", type=float, default=150.0)
    p.add_argument("--strong-ms", type=float, default=300.0)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "cascade.json")
    return p.parse_args(argv)


def _post(url: str, body: dict[str, Any]) -> tuple[dict[str, str], bytes, float, float | None]:
    """(headers, body, seconds to the whole body, seconds to the first body byte)."""
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        first = r.read(1)
        ttft = time.perf_counter() - t0
        rest = r.read()
        return (
            {k.lower(): v for k, v in r.headers.items()},
            first + rest,
            time.perf_counter() - t0,
            ttft,
        )


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs)
    return {
        "n": len(xs),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


def start(settings: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    from tokenport.api.app import create_app

    app = create_app(settings, env={})
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", loop="asyncio")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tokenport.config import Settings
    from tokenport.lab.fake import FakeUpstream, Script
    from tokenport.lab.router.data import load_dataset
    from tokenport.lab.router.train import train_router

    data = load_dataset(DATA)
    assert data.responses is not None
    tmp = Path(tempfile.mkdtemp(prefix="tokenport-cascade-bench-"))
    artifact = train_router(data).save(tmp / "router.npz")
    cheap, strong = FakeUpstream.start_in_thread(), FakeUpstream.start_in_thread()

    def provider(fake: Any, price: float) -> dict[str, Any]:
        model = {"id": "fake-model", "slug": "fake-model", "author": "tokenport", "country": "US"}
        model.update(context_length=8192, input_price=price, output_price=price * 3)
        return {"base_url": fake.base_url + "/v1", "protocol": "openai", "models": [model]}

    pool = {"models": {WEAK: "cheap/fake-model", STRONG: "strong/fake-model"}}
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp),
            "local": {"enabled": False},
            "providers": {"cheap": provider(cheap, 0.7), "strong": provider(strong, 10.0)},
            "auto": {
                "artifact": str(artifact),
                # `trusted` trusts every answer (threshold far above any predicted gain).
                "pools": {
                    "default": {"mode": "cascade", **pool},
                    "trusted": {"mode": "cascade", "threshold": 1e9, **pool},
                },
            },
        }
    )
    base, server, thread = start(settings)
    url = base + "/v1/chat/completions"
    col = data.models.index(WEAK)
    out: dict[str, Any] = {"data": str(DATA.relative_to(ROOT)), "requests": args.requests}
    try:
        # 1. decision overhead, on real prompts and Mixtral's recorded answers
        overhead, overhead_cpu = [], []
        verdicts = {"trusted": 0, "escalated": 0, "skipped": 0}
        escalated_at: int | None = None
        for i in range(args.requests):
            k = i % len(data)
            cheap.push(Script(text=data.responses[k][col] or ""))
            strong.set_script(Script(text="ok"))
            body = {"model": "auto", "messages": [{"role": "user", "content": data.texts[k]}]}
            headers, raw, _, _ = _post(url, body)
            auto = json.loads(raw)["auto"]
            overhead.append(auto["overhead_ms"])
            overhead_cpu.append(auto["overhead_cpu_ms"])
            verdicts[auto["verdict"]] = verdicts.get(auto["verdict"], 0) + 1
            if auto["verdict"] == "escalated" and escalated_at is None:
                escalated_at = k
            if auto["verdict"] == "skipped":  # the queued cheap script was not used
                cheap.reset(Script())
        out["overhead_ms"] = _pct(overhead)
        out["overhead_cpu_ms"] = _pct(overhead_cpu)
        out["verdicts_at_default_threshold"] = verdicts

        # 2. added latency end to end: cascade (trusted, one cheap call) vs cheap directly
        cheap.reset(Script(text=data.responses[0][col] or ""))
        prompt = [{"role": "user", "content": data.texts[0]}]
        cascade_s, direct_s = [], []
        for _ in range(args.requests // 2):
            direct_s.append(_post(url, {"model": "cheap/fake-model", "messages": prompt})[2])
            cascade_s.append(_post(url, {"model": "auto:trusted", "messages": prompt})[2])
        out["end_to_end_ms"] = {
            "direct_cheap_p50": statistics.median(direct_s) * 1e3,
            "cascade_trusted_p50": statistics.median(cascade_s) * 1e3,
            "added_p50": (statistics.median(cascade_s) - statistics.median(direct_s)) * 1e3,
        }

        # 3. time to first token; `escalated`: a prompt whose recorded cheap answer the
        # default pool escalates, so the cheap call comes first, then the strong stream
        k = escalated_at or 0
        cheap.reset(Script(text=data.responses[k][col] or "", latency_ms=args.cheap_ms))
        strong.reset(Script(text="The answer is 18.", latency_ms=args.strong_ms, chunks=4))
        ttft: dict[str, list[float]] = {"strong_direct": [], "held_trusted": [], "escalated": []}
        held: list[float] = []
        hard = [{"role": "user", "content": data.texts[k]}]
        for _ in range(args.streams):
            for name, model, msgs in (
                ("strong_direct", "strong/fake-model", hard),
                ("held_trusted", "auto:trusted", hard),
                ("escalated", "auto", hard),
            ):
                body = {"model": model, "messages": msgs, "stream": True}
                headers, _, _, first = _post(url, body)
                assert first is not None
                ttft[name].append(first * 1e3)
                if name == "held_trusted":
                    held.append(float(headers["x-tokenport-auto-held-ms"]))
        out["ttft_ms"] = {
            "upstreams": {
                "cheap_answer_ms": args.cheap_ms,
                "strong_first_chunk_ms": args.strong_ms,
            },
            **{k: _pct(v) for k, v in ttft.items()},
            "held_header_p50": statistics.median(held),
        }
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        cheap.stop()
        strong.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
