"""Sticky routing for prompt caching: cache-hit rate and cost on a multi-turn agent trace.

    python bench/sticky.py                         # ~1 min: 16 agents x 12 turns, 4 runs
    python bench/sticky.py --agents 32 --turns 20

A gateway (in this process, uvicorn in a thread) in front of three equal upstreams that
serve one model (`lab/prefix_fake.py`): same price (input $1/M, cache read $0.10/M,
output $4/M), each caching prompt prefixes honestly (cached tokens are reported only for
a prefix that same upstream processed before) and each with a load that swings over time
(25 ms +- 15 ms over `--drift-period`, out of phase, plus 0-6 ms jitter). Other tenants'
short requests (`--background`), pinned to each upstream in turn, keep every route's
measured latency current (`--window` answers per route), so `sort: "latency"` follows
the load, as it does in production; they are not counted below.
The trace: `--agents` coding agents, interleaved, each a system prompt and tool schemas
(~900 words), then `--turns` turns that each add the upstream's answer and a tool result
of 80-300 words, like an agent loop. Requests go one at a time.

Four runs, each with fresh upstreams (cold caches) and the same trace:
- `provider.sort: "latency"` (routes ordered by measured time to first token, which moves
  with the upstreams' load), sticky routing off, then on;
- the default price sort (equal prices: the order never moves), sticky off, then on,
  to show that sticky routing changes nothing where the order is already stable.

It reports, per run: the token-weighted cache-hit rate (cached / prompt tokens, as the
upstreams report them), the share of follow-up turns that hit any cache, how often a
conversation changed upstream, and the cost (tokenport's own `usage.cost`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parents[1]
PRICE = {"input_price": 1.0, "cache_read_price": 0.1, "output_price": 4.0}
WORDS = [
    "read",
    "edit",
    "file",
    "patch",
    "test",
    "build",
    "run",
    "grep",
    "diff",
    "commit",
    "error",
    "stack",
    "trace",
    "line",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--agents", type=int, default=16)
    p.add_argument("--turns", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--window", type=int, default=16, help="routing.speed_window (answers)")
    p.add_argument("--drift-period", type=float, default=8.0, help="upstream load swing (s)")
    p.add_argument(
        "--background", type=int, default=2, help="one other-tenant request per N trace requests"
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "sticky.json")
    return p.parse_args(argv)


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def trace(agents: int, turns: int, seed: int) -> list[list[str]]:
    """Per agent: its system prompt, then the tool result it sends at each turn."""
    rng = random.Random(seed)
    return [
        [f"agent {a}: " + _text(rng, 700)]
        + [_text(rng, rng.randint(80, 300)) for _ in range(turns)]
        for a in range(agents)
    ]


def _tools(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": _text(rng, 40),
                "parameters": {"type": "object", "properties": {"arg": {"type": "string"}}},
            },
        }
        for i in range(5)
    ]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        answer: dict[str, Any] = json.loads(r.read())
        return answer


def _background(url: str, n: int, upstreams: int) -> None:
    """Another tenant's short request, pinned to each upstream in turn (`provider.order`):
    it keeps every route's measured latency current, as other traffic does in production.
    Its prompt is its own, so it neither warms nor hits an agent's cache."""
    body = {
        "model": "agent-model",
        "messages": [{"role": "user", "content": f"background {n}"}],
        "provider": {"order": [f"up{n % upstreams}"]},
    }
    _post(url + "/v1/chat/completions", body)


def start(settings: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    from tokenport.api.app import create_app

    app = create_app(settings, env={})
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


def run(args: argparse.Namespace, sort: str | None, sticky: bool) -> dict[str, Any]:
    from tokenport.config import Settings
    from tokenport.lab.prefix_fake import PrefixCacheUpstream

    fakes = [
        PrefixCacheUpstream.start_in_thread(
            latency_ms=25,
            drift_ms=15,
            drift_period_s=args.drift_period,
            phase=2.1 * i,
            jitter_ms=6,
            seed=i,
        )
        for i in range(3)
    ]
    model = {"id": "agent-model", "slug": "agent-model", "context_length": 200_000, **PRICE}
    providers = {
        f"up{i}": {"base_url": f.base_url + "/v1", "models": [model]} for i, f in enumerate(fakes)
    }
    settings = Settings.model_validate(
        {
            "data_dir": tempfile.mkdtemp(prefix="tokenport-sticky-bench-"),
            "local": {"enabled": False},
            "providers": providers,
            "routing": {"sticky": sticky, "speed_window": args.window},
        }
    )
    url, server, thread = start(settings)
    rng = random.Random(args.seed)
    tools = _tools(rng)
    convs = trace(args.agents, args.turns, args.seed)
    history: list[list[dict[str, Any]]] = [[{"role": "system", "content": c[0]}] for c in convs]
    served_by: list[list[str]] = [[] for _ in convs]
    prompt = cached = 0
    cost = 0.0
    followups = followup_hits = 0
    sent = 0
    try:
        for turn in range(1, args.turns + 1):
            for a, conv in enumerate(convs):
                history[a].append({"role": "user", "content": conv[turn]})
                body: dict[str, Any] = {
                    "model": "agent-model",
                    "messages": history[a],
                    "tools": tools,
                }
                if sort is not None:
                    body["provider"] = {"sort": sort}
                answer = _post(url + "/v1/chat/completions", body)
                sent += 1
                if args.background and sent % args.background == 0:
                    _background(url, sent, len(fakes))
                usage = answer["usage"]
                hit = usage["prompt_tokens_details"]["cached_tokens"]
                prompt += usage["prompt_tokens"]
                cached += hit
                cost += usage["cost"]
                if turn > 1:
                    followups += 1
                    followup_hits += hit > 0
                served_by[a].append(answer.get("provider", "?"))
                history[a].append(answer["choices"][0]["message"])
    finally:
        server.should_exit = True
        thread.join(10)
        for f in fakes:
            f.stop()
    moves = sum(sum(x != y for x, y in itertools.pairwise(s)) for s in served_by)
    uncached = prompt * PRICE["input_price"] / 1e6
    return {
        "sort": sort or "price (default)",
        "sticky": sticky,
        "requests": args.agents * args.turns,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "cache_hit_rate": cached / prompt,
        "followup_turns_hitting_cache": followup_hits / followups if followups else 0.0,
        "upstream_changes": moves,
        "cost_usd": round(cost, 6),
        "prompt_cost_if_never_cached_usd": round(uncached, 6),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [run(args, sort, sticky) for sort in ("latency", None) for sticky in (False, True)]
    print(
        f"{'sort':<16} {'sticky':<6} {'hit rate':>8} {'turns hit':>9} {'moves':>6} {'cost $':>10}"
    )
    for r in rows:
        print(
            f"{r['sort']:<16} {('on' if r['sticky'] else 'off'):<6} "
            f"{r['cache_hit_rate']:>8.1%} {r['followup_turns_hitting_cache']:>9.1%} "
            f"{r['upstream_changes']:>6} {r['cost_usd']:>10.4f}"
        )
    off, on = rows[0], rows[1]
    saved = 1 - on["cost_usd"] / off["cost_usd"]
    print(
        f"sort=latency: sticky routing saves {saved:.1%} of the cost ({off['cost_usd']:.4f} -> "
        f"{on['cost_usd']:.4f} USD)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "runs": rows}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
