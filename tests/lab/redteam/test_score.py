"""Scoring a scan against the ground truth."""

from __future__ import annotations

import math

import pytest

from tokenport.lab.redteam.driver import Truth
from tokenport.lab.redteam.score import Verdict, auc, evaluate, verdicts


def test_auc_is_the_probability_a_positive_outscores_a_negative() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5]) == 0.5
    assert auc([0.9, 0.3], [0.5, 0.1]) == 0.75
    assert math.isnan(auc([], [0.1]))


def test_rates_per_style_and_population_and_missing_keys_count_as_unflagged() -> None:
    truth = {
        "a1": Truth("abuse", "blend", "c", 5),
        "a2": Truth("abuse", "blend", "c", 5),
        "a3": Truth("abuse", "rotating", "d", 5),
        "h1": Truth("honest", "chat", "u", 5),
        "h2": Truth("honest", "classroom", "v", 5),
    }
    found = {
        "a1": Verdict(0.9, True),
        "a3": Verdict(0.7, True),
        "h2": Verdict(0.6, True),
        "h1": Verdict(0.1, False),
    }
    r = evaluate(truth, found)
    assert (r.recall.flagged, r.recall.keys) == (2, 3)
    assert r.recall_by_style["blend"].rate == 0.5
    assert r.fpr_by_population["classroom"].rate == 1.0
    assert r.fpr_by_population["chat"].rate == 0.0
    assert r.missing == 1
    assert r.auc == pytest.approx(4 / 6)  # a1 beats both; a3 beats both; a2 (0) beats none


def test_reads_the_scan_json_shape() -> None:
    doc = {
        "accounts": [
            {"key_id": "k", "score": 0.4, "flagged": False, "cluster": None, "reasons": []}
        ],
        "clusters": [],
    }
    assert verdicts(doc) == {"k": Verdict(0.4, False)}
