"""Score `tokenport abuse scan --json` against the ground truth.

A key the scan does not list scores 0 and is not flagged (the scan lists every key with
traffic in its window; a missing key is counted, not skipped, and reported in `missing`).
Recall per style and false-positive rate per honest population are at the scan's own
`flagged`; ROC AUC is from `score` (ties count one half), overall and per style against
every honest key.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from tokenport.lab.redteam.driver import Truth


class Verdict(msgspec.Struct, frozen=True):
    score: float
    flagged: bool


class Rate(msgspec.Struct):
    keys: int
    flagged: int
    rate: float


class Report(msgspec.Struct):
    recall: Rate
    fpr: Rate
    auc: float
    recall_by_style: dict[str, Rate]
    fpr_by_population: dict[str, Rate]
    auc_by_style: dict[str, float]
    missing: int  # truth keys the scan did not list


def scan(database_url: str, out: Path) -> dict[str, Verdict]:
    """Run the public scan, keep its JSON in `out`, and read each key's verdict."""
    argv = [
        sys.executable,
        "-m",
        "tokenport",
        "abuse",
        "scan",
        "--database-url",
        database_url,
        "--json",
    ]
    raw = subprocess.run(argv, check=True, capture_output=True).stdout
    out.write_bytes(raw)
    return verdicts(json.loads(raw))


def verdicts(doc: dict[str, Any]) -> dict[str, Verdict]:
    return {a["key_id"]: Verdict(float(a["score"]), bool(a["flagged"])) for a in doc["accounts"]}


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a positive outscores a negative), ties one half (Mann-Whitney)."""
    if not pos or not neg:
        return float("nan")
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # average 1-based rank of the tie block
        rank_sum += mid * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    n_pos, n_neg = len(pos), len(neg)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _rate(flags: list[bool]) -> Rate:
    return Rate(len(flags), sum(flags), sum(flags) / len(flags) if flags else float("nan"))


def evaluate(truth: dict[str, Truth], found: dict[str, Verdict]) -> Report:
    none = Verdict(0.0, False)
    groups: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
    for key, t in truth.items():
        groups[(t.label, t.group)].append(found.get(key, none))
    pos = {g: v for (label, g), v in groups.items() if label == "abuse"}
    neg = {g: v for (label, g), v in groups.items() if label == "honest"}
    all_pos = [v for vs in pos.values() for v in vs]
    all_neg = [v for vs in neg.values() for v in vs]
    neg_scores = [v.score for v in all_neg]
    return Report(
        recall=_rate([v.flagged for v in all_pos]),
        fpr=_rate([v.flagged for v in all_neg]),
        auc=auc([v.score for v in all_pos], neg_scores),
        recall_by_style={g: _rate([v.flagged for v in vs]) for g, vs in sorted(pos.items())},
        fpr_by_population={g: _rate([v.flagged for v in vs]) for g, vs in sorted(neg.items())},
        auc_by_style={g: auc([v.score for v in vs], neg_scores) for g, vs in sorted(pos.items())},
        missing=sum(1 for k in truth if k not in found),
    )


def load_truth(path: Path) -> dict[str, Truth]:
    return msgspec.json.decode(path.read_bytes(), type=dict[str, Truth])


def table(r: Report) -> str:
    lines = [
        f"overall: recall {r.recall.flagged}/{r.recall.keys} = {r.recall.rate:.3f}, "
        f"FPR {r.fpr.flagged}/{r.fpr.keys} = {r.fpr.rate:.4f}, ROC AUC {r.auc:.3f}"
        + (f" ({r.missing} keys not in the scan)" if r.missing else "")
    ]
    lines += [
        f"  style {g:<18} recall {x.flagged:>4}/{x.keys:<4} = {x.rate:.3f}"
        f"  AUC {r.auc_by_style[g]:.3f}"
        for g, x in r.recall_by_style.items()
    ]
    lines += [
        f"  honest {g:<17} FPR {x.flagged:>4}/{x.keys:<4} = {x.rate:.3f}"
        for g, x in r.fpr_by_population.items()
    ]
    return "\n".join(lines)
