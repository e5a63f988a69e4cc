"""The market claims: capability vs cost per model pair, OpenRouter share and weekly peak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenport.economics.settings import Economics
from tokenport.lab.claims.checks import check_claims
from tokenport.lab.claims.checks_market import load_scores, pairs
from tokenport.lab.claims.claim import ClaimResult, load_claims

SHARED = [
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "routing",
    Path("/work/shared/data/routing"),
]
YI, GPT4, LLAMA = "zero-one-ai/Yi-34B-Chat", "gpt-4-1106-preview", "meta/llama-2-70b-chat"


def _one(claim_id: str, **overrides: object) -> ClaimResult:
    claims = [
        c for c in load_claims({claim_id: overrides} if overrides else None) if c.id == claim_id
    ]
    return check_claims(Economics.load(), claims)[0]


def test_capability_and_cost_gaps_per_pair() -> None:
    claim = next(c for c in load_claims() if c.id == "capability_gap")
    yi = next(p for p in pairs(claim) if p.cheap == YI)
    scores = load_scores()
    datasets = ("arc_challenge", "mbpp", "winogrande")
    mean_yi = sum(scores[YI, d].accuracy for d in datasets) / 3
    mean_gpt4 = sum(scores[GPT4, d].accuracy for d in datasets) / 3
    assert yi.ratio == pytest.approx(mean_yi / mean_gpt4)
    assert 0.8 < yi.ratio < 0.82 and 19 < yi.cost_gap < 21
    mbpp = next(r for d, r, _ in yi.per_dataset if d == "mbpp")
    assert mbpp < 0.6  # coding, the workload the articles say dominates, is the weak spot


def test_capability_and_cost_verdicts() -> None:
    capability, cost = _one("capability_gap"), _one("cost_gap")
    assert capability.verdict == "consistent" and cost.verdict == "consistent"
    assert any("2 of 3 pairs" in line for line in capability.arithmetic)
    assert 16 < cost.data_low < cost.data_high < 27
    # one pair alone: llama-2-70b scores 0.65 of GPT-4, well under the claimed 0.8
    only_llama = _one("capability_gap", params={"pairs": [[LLAMA, GPT4]]})
    assert only_llama.verdict == "overstated"
    coding_only = _one("capability_gap", params={"weight_arc_challenge": 1e-9,
                                                  "weight_winogrande": 1e-9})  # fmt: skip
    assert coding_only.data_high < 0.8


def test_the_two_articles_disagree_on_the_months_share() -> None:
    r = _one("market_share")
    assert r.verdict == "overstated" and not r.independent
    assert r.data_low == pytest.approx(14.69 / 28.7)
    assert any("disagree for the month by 1.19x" in line for line in r.arithmetic)
    assert any("88%" in line and "outside China" in line for line in r.arithmetic)


def test_the_weekly_peak_agrees_with_the_month() -> None:
    r = _one("market_peak")
    assert r.verdict == "consistent" and not r.independent
    assert 5.05 < r.data_low < 5.16 < r.data_high < 5.35
    assert _one("market_peak", claimed_low=7.2, claimed_high=7.2).verdict == "overstated"


def test_the_snapshot_is_the_shared_routerbench_files_summarised() -> None:
    found = [p for p in SHARED if (p / "routerbench_mbpp.jsonl").exists()]
    if not found:
        pytest.skip("shared/data/routing not found: the snapshot cannot be recomputed here")
    sums: dict[tuple[str, str], list[float]] = {}
    for dataset in ("arc_challenge", "mbpp", "winogrande"):
        lines = (found[0] / f"routerbench_{dataset}.jsonl").read_text("utf-8").splitlines()
        for line in lines[1:]:  # the first line is the header
            for model, v in json.loads(line)["models"].items():
                acc = sums.setdefault((model, dataset), [0.0, 0.0, 0.0])
                acc[0] += v["score"]
                acc[1] += v["cost_usd"]
                acc[2] += 1
    scores = load_scores()
    assert set(scores) == set(sums)
    for key, (score, cost, n) in sums.items():
        assert scores[key].accuracy == pytest.approx(score / n, abs=1e-6)
        assert scores[key].usd_per_call == pytest.approx(cost / n, abs=1e-9)  # 9 places
