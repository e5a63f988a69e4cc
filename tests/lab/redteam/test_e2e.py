"""One small scenario through a real gateway (`tokenport serve`, the red team's upstream on
loopback, the openai SDK as client), then `tokenport abuse scan --json`, then the scoring.
Checks that the traffic got through, the ground truth is complete and the scoring runs; the
detector's figures are the result, not asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenport.lab.redteam import score
from tokenport.lab.redteam.__main__ import main
from tokenport.lab.redteam.driver import play
from tokenport.lab.redteam.scenario import SCENARIOS, build


@pytest.mark.slow
def test_a_scenario_plays_through_a_gateway_and_is_scored(tmp_path: Path) -> None:
    accounts = build(SCENARIOS["tiny"], 5)
    one_each = list({a.group: a for a in accounts}.values())
    played = play(one_each, tmp_path, concurrency=8)
    assert played.failed == 0
    assert played.sent == sum(len(a.requests) for a in one_each)

    truth = score.load_truth(tmp_path / "truth.json")
    assert truth == played.truth and len(truth) == len(one_each)
    assert sorted(t.group for t in truth.values()) == sorted(a.group for a in one_each)
    assert all(key.startswith("key_") for key in truth)

    found = score.scan(played.database_url, tmp_path / "scan.json")
    assert set(found) == set(truth)  # every key had traffic; the scan saw every one
    report = score.evaluate(truth, found)
    assert report.missing == 0
    assert set(report.recall_by_style) == {a.group for a in one_each if a.label == "abuse"}
    assert set(report.fpr_by_population) == {a.group for a in one_each if a.label == "honest"}
    assert 0.0 <= report.auc <= 1.0
    assert json.loads((tmp_path / "scan.json").read_text()).keys() >= {"accounts", "clusters"}

    # The CLI re-scores the same ledger and writes the report.
    assert main(["--out", str(tmp_path), "--rescore"]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["missing"] == 0
