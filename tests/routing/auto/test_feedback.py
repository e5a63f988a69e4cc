"""Feedback moves the model that was scored, is persisted, and is replayed at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from _auto_synth import dataset
from tokenport.lab.router import TrainConfig, train_router
from tokenport.routing.auto import AutoRouter, Pool
from tokenport.routing.auto.feedback import FeedbackLog, record
from tokenport.routing.autoroute import load_router

PROMPT = "a poem about the moon"


def test_bad_scores_move_the_decision_and_survive_a_restart(tmp_path: Path) -> None:
    path = train_router(dataset(), TrainConfig(alpha=0.3)).save(tmp_path / "r.npz")
    router = AutoRouter.load(path)
    pool = Pool(name="p", tradeoff=50.0)
    assert router.decide(PROMPT, pool).model == "cheap"
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    for _ in range(5):
        record(router, log, PROMPT, "cheap", 0.0)
    assert router.decide(PROMPT, pool).model != "cheap"
    assert "moon" not in log.path.read_text()  # hashed counts, not the prompt
    reloaded = load_router(path, feedback_log=log.path)
    assert reloaded.decide(PROMPT, pool) == router.decide(PROMPT, pool)
    assert AutoRouter.load(path).decide(PROMPT, pool).model == "cheap"


def test_feedback_is_validated(tmp_path: Path) -> None:
    router = AutoRouter(train_router(dataset(), TrainConfig(alpha=0.3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        record(router, None, PROMPT, "cheap", 7.0)
