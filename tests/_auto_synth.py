"""A tiny synthetic routing set: 'cheap' is good at poems, bad at algebra; 'big' is good at
both but costs 20x. Small enough to train in well under a second."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tokenport.lab.router.data import RoutingDataset

MODELS = ("cheap", "mid", "big")
POEMS = ["a poem about {}", "write a short poem on {}", "a haiku about {} please"]
ALGEBRA = ["solve {} x^2 + 3x = 7", "factor the polynomial {} x^3 - 2", "integrate {} dx twice"]
TOPICS = ["rain", "cats", "the sea", "autumn", "trains", "coffee", "snow", "stars", "bread", "ink"]


def rows() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, topic in enumerate(TOPICS * 2):
        for kind, templates in (("poem", POEMS), ("algebra", ALGEBRA)):
            prompt = templates[i % 3].format(topic)
            cheap = 1.0 if kind == "poem" else 0.0
            mid = 1.0 if kind == "poem" or i % 2 == 0 else 0.0
            out.append(
                {
                    "id": f"{kind}-{i}",
                    "prompt": prompt,
                    "models": {
                        "cheap": {"score": cheap, "cost_usd": 0.0001},
                        "mid": {"score": mid, "cost_usd": 0.0005},
                        "big": {"score": 1.0, "cost_usd": 0.002},
                    },
                }
            )
    return out


def write(path: Path) -> Path:
    header = {"header": {"dataset": "synth", "models": list(MODELS), "score": "0/1"}}
    lines = [json.dumps(header)] + [json.dumps(r) for r in rows()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dataset() -> RoutingDataset:
    data = rows()
    scores = np.array([[r["models"][m]["score"] for m in MODELS] for r in data])  # type: ignore[index]
    costs = np.array([[r["models"][m]["cost_usd"] for m in MODELS] for r in data])  # type: ignore[index]
    return RoutingDataset(
        name="synth",
        models=MODELS,
        ids=tuple(str(r["id"]) for r in data),
        texts=tuple(str(r["prompt"]) for r in data),
        scores=scores,
        costs=costs,
    )
