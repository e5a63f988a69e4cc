"""Training and replaying cascades on synthetic files whose right answers are known."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from _cascade_synth import (
    CHEAP,
    STRONG,
    pair_rows,
    sum_answer,
    write_choice,
    write_pair,
    write_rows,
)
from tokenport.lab.router.data import load_dataset
from tokenport.lab.router.eval import evaluate
from tokenport.lab.router.train import TrainConfig, train_router
from tokenport.routing.auto.cascade_meta import skip
from tokenport.routing.auto.decide import AutoRouter
from tokenport.routing.auto.model import RouterArtifact

PRICES = {CHEAP: (0.1, 0.1), STRONG: (10.0, 30.0)}


def _weights(stage: Any) -> dict[str, float]:
    return dict(zip(stage.features, stage.weights, strict=True))


def test_a_pair_cascade_learns_to_distrust_wrong_arithmetic(tmp_path: Path) -> None:
    data = load_dataset(write_pair(tmp_path / "sums.jsonl"))
    artifact = train_router(data)
    meta = artifact.meta.cascade
    assert meta is not None and meta.chain == [CHEAP] and meta.strong == STRONG
    w = _weights(meta.stages[0])
    assert w["arith_wrong"] > 0.05 and w["arith_held"] < -0.05
    assert set(meta.operating) == {"pgr50", "pgr80", "pgr90"}
    assert meta.operating["pgr90"] <= meta.operating["pgr80"] <= meta.operating["pgr50"]
    path = artifact.save(tmp_path / "router.npz")
    assert RouterArtifact.load(path).meta.cascade == meta  # the cascade travels in the file

    report = evaluate(data, folds=4, prices=PRICES)["routellm"]
    auto, prompt = report["routers"]["auto"], report["routers"]["prompt_only"]
    # The cheap model is wrong on 40%: escalating exactly those is the best any router can
    # do, RouteLLM's APGR 0.8 and CPT(50%) 20%.
    assert auto["kind"] == "cascade"
    assert auto["apgr"] > 0.75 and auto["cpt"]["50%"] < 25
    assert prompt["apgr"] < 0.65  # the prompt alone cannot tell
    # Every cheap call counted: below always-strong, above the strong share alone.
    share = auto["total_cost_share_at_cpt50"]
    assert auto["cpt"]["50%"] / 100 < share < 0.5
    assert auto["cascade"]["default"]["total_cost_share"] < 1


def test_agreement_between_cheap_models_is_learned_and_counted(tmp_path: Path) -> None:
    data = load_dataset(write_choice(tmp_path / "choice.jsonl"))
    meta = train_router(data).meta.cascade
    assert meta is not None
    assert set(meta.chain) == {"c1", "c2"} and meta.strong == "big"
    assert _weights(meta.stages[1])["agree_share"] < 0  # agreeing answers need no escalation
    report = evaluate(data, folds=4)["routerbench"]
    auto = report["routers"]["auto"]
    assert auto["quality_at_half_cost"] > report["routers"]["prompt_only"]["quality_at_half_cost"]
    curve = np.array(auto["curve"])
    # Every point pays for the cheap calls it made: none is cheaper than one cheap call.
    assert curve[:, 0].min() >= 0.0001 - 1e-12
    assert {"aiq", "match_cost_share", "cost_to_match_best"} <= set(auto)


def test_answers_that_say_nothing_leave_the_prompt_routers_ranking(tmp_path: Path) -> None:
    rows = pair_rows(200, seed=3)
    rng = random.Random(1)
    for r in rows:  # every answer's arithmetic holds, right or wrong: no signal in the text
        r["models"][CHEAP]["response"] = sum_answer(2, 2, 4) + " " * rng.randint(0, 3)
    header = {"header": {"dataset": "noise", "weak": CHEAP, "strong": STRONG}}
    data = load_dataset(write_rows(tmp_path / "noise.jsonl", header, rows))
    meta = train_router(data).meta.cascade
    assert meta is not None and meta.stages[0].alpha == -1.0  # infinite: the prompt router


def test_the_cheap_call_is_skipped_where_the_prompt_says_it_will_fail(tmp_path: Path) -> None:
    rows = pair_rows(300, seed=5)
    for i, r in enumerate(rows):
        if i % 3 == 0:  # riddles: the cheap answer looks fine and is always wrong
            r["prompt"] = f"Riddle {i}: what has keys but cannot open a single lock?"
            r["models"][CHEAP]["score"] = 0.0
            r["models"][CHEAP]["response"] = "A map.\n#### 1"
    header = {"header": {"dataset": "riddles", "weak": CHEAP, "strong": STRONG}}
    data = load_dataset(write_rows(tmp_path / "riddles.jsonl", header, rows))
    router = AutoRouter(train_router(data, TrainConfig(prices=PRICES)))
    meta = router.artifact.meta.cascade
    assert meta is not None and meta.skip is not None
    assert meta.skip.z > 2  # the cheap call costs ~1% of the strong one: skip only when sure

    def skipped(prompt: str, threshold: float) -> bool:
        q, _ = router.predict(prompt)
        return skip(meta, dict(zip(router.models, q.tolist(), strict=True)), threshold)

    riddle = "Riddle 7: what has keys but cannot open a single lock?"
    sums = "Tom has 3 apples and gets 4 more. How many apples does Tom have now?"
    assert skipped(riddle, 0.0) and not skipped(sums, 0.0)
    # The skip follows the threshold: a cascade that escalates less skips less.
    assert not skipped(riddle, 10.0)
    without = load_dataset(write_rows(tmp_path / "r2.jsonl", header, rows))
    assert train_router(without).meta.cascade.skip is None  # type: ignore[union-attr]


def test_holdout_eval_json_keeps_the_keys_and_adds_the_total_cost(tmp_path: Path) -> None:
    import typer

    from tokenport.cli.router import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """tokenport (test shell)."""

    register(app)
    train = write_pair(tmp_path / "train.jsonl", 200, seed=1)
    test = write_pair(tmp_path / "test.jsonl", 120, seed=2)
    args = ["router", "eval", "--train", str(train), "--test", str(test), "--json"]
    prices = ["--price", f"{CHEAP}=0.1/0.1", "--price", f"{STRONG}=10/30"]
    res = CliRunner().invoke(app, [*args, *prices])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    auto = report["routellm"]["routers"]["auto"]
    assert {"apgr", "cpt", "total_cost_share_at_cpt50"} <= set(auto) and "50%" in auto["cpt"]
    assert report["n_scored"] == 120 and auto["apgr"] > 0.7
    assert report["latency"]["cascade"]["p99_ms"] > 0
    res = CliRunner().invoke(app, [*args, "--price", "oops"])
    assert res.exit_code == 2 and "MODEL=IN/OUT" in res.output


def test_routerbench_eval_counts_every_call(tmp_path: Path) -> None:
    data = load_dataset(write_choice(tmp_path / "c.jsonl", 200, seed=4))
    test = load_dataset(write_choice(tmp_path / "t.jsonl", 150, seed=9))
    report = evaluate(data, test, cfg=TrainConfig(seed=0))["routerbench"]
    auto = report["routers"]["auto"]
    assert auto["kind"] == "cascade" and "match_cost_share" in auto
    assert set(report["routers"]) >= {"auto", "prompt_only", "tfidf_ridge", "random", "oracle"}
    # The dearest end of the cascade's curve: every chain call, then the strong model.
    dearest = max(p[0] for p in auto["curve"])
    assert dearest > report["best_single"]["cost"]


@pytest.mark.parametrize("name", ["gsm8k", "mt_bench"])
def test_the_shipped_pair_files_train_a_cascade(name: str) -> None:
    path = Path(__file__).resolve().parents[3] / "data" / "routing" / f"{name}.jsonl"
    lines = path.read_text(encoding="utf-8").split("\n")
    data = load_dataset(path) if len(lines) < 100 else None
    if data is None:
        small = Path(__file__).parent / f".{name}-small.jsonl"
        try:
            small.write_text("\n".join(lines[:121]) + "\n", encoding="utf-8")
            data = load_dataset(small)
        finally:
            small.unlink(missing_ok=True)
    meta = train_router(data).meta.cascade
    assert meta is not None and meta.chain == [data.weak]
