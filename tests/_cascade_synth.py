"""Synthetic routing files with answers, where the truth is known.

- `pair_rows`: word sums. The cheap model writes its sum out and is right exactly when the
  sum it writes is right; the strong model is always right. A verifier that re-computes the
  answer's arithmetic can tell them apart perfectly; the prompt cannot (the numbers are
  random).
- `choice_rows`: lettered questions. Two cheap models (`c1`, `c2`) are each right 70% of the
  time and, when wrong, pick a wrong letter at random; the strong one is always right, at 20x
  the cost. Where the cheap two agree they are almost always right: agreement is the signal.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

NAMES = ["Tom", "Ana", "Li", "Sam", "Ida", "Raj", "Eve", "Max"]
ITEMS = ["apples", "stamps", "marbles", "books", "coins", "shells"]
CHEAP, STRONG = "cheap", "strong"


def sum_prompt(a: int, b: int, name: str = "Tom", item: str = "apples") -> str:
    return f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"


def sum_answer(a: int, b: int, written: int, name: str = "Tom", item: str = "apples") -> str:
    return f"{name} starts with {a} {item}.\nThen {a} + {b} = {written} {item}.\n#### {written}"


def pair_rows(n: int = 240, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(2, 90), rng.randint(2, 90)
        name, item = rng.choice(NAMES), rng.choice(ITEMS)
        right = rng.random() < 0.6
        written = a + b if right else a + b + rng.choice([-10, -3, -1, 1, 2, 7, 11])
        out.append(
            {
                "id": f"sum-{i}",
                "prompt": sum_prompt(a, b, name, item),
                "models": {
                    CHEAP: {
                        "score": 1.0 if right else 0.0,
                        "response": sum_answer(a, b, written, name, item),
                    },
                    STRONG: {"score": 1.0, "response": f"{a} + {b} = {a + b}.\n#### {a + b}"},
                },
            }
        )
    return out


def choice_rows(n: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        truth = rng.choice("ABCD")
        models: dict[str, Any] = {}
        for name, cost in (("c1", 0.0001), ("c2", 0.00012)):
            right = rng.random() < 0.7
            letter = truth if right else rng.choice([x for x in "ABCD" if x != truth])
            models[name] = {"score": float(right), "cost_usd": cost, "response": letter}
        models["big"] = {"score": 1.0, "cost_usd": 0.002, "response": truth}
        topic = rng.choice(ITEMS)
        prompt = (
            f"Question {i} about {topic}: which is it?\nA) one\nB) two\nC) three\nD) four\n"
            "Answer with the letter."
        )
        out.append({"id": f"q-{i}", "prompt": prompt, "models": models})
    return out


def write_pair(path: Path, n: int = 240, seed: int = 0) -> Path:
    header = {"header": {"dataset": "synth_sums", "weak": CHEAP, "strong": STRONG, "score": "0/1"}}
    return write_rows(path, header, pair_rows(n, seed))


def write_choice(path: Path, n: int = 300, seed: int = 0) -> Path:
    header = {"header": {"dataset": "synth_choice", "models": ["c1", "c2", "big"], "score": "0/1"}}
    return write_rows(path, header, choice_rows(n, seed))


def write_rows(path: Path, header: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    lines = [json.dumps(header)] + [json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
