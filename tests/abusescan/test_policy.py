"""A scan's verdicts become actions by policy, written to the action log; admission then
reads only what is in force (security/abuse/actions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.abusescan.action_log import ActionLog
from tokenport.abusescan.policy import apply, decide
from tokenport.abusescan.report import AccountVerdict, Report
from tokenport.config import AbuseConfig, AbuseRule
from tokenport.errors import BadRequest, NotFound
from tokenport.security.abuse.actions import ActionStore

LADDER = AbuseConfig(
    rules=[AbuseRule(min_score=0.5, action="flag"), AbuseRule(min_score=0.8, action="block")]
)


def _report(*scores: tuple[str, float]) -> Report:
    accounts = [AccountVerdict(k, s, s >= 0.5, None, ["why"]) for k, s in scores]
    return Report(accounts=accounts, clusters=[])


def test_the_ladder_picks_the_highest_rule_met() -> None:
    assert decide(LADDER, 0.9) == "block"
    assert decide(LADDER, 0.6) == "flag"
    assert decide(LADDER, 0.1) == "observe"
    assert decide(AbuseConfig(policy="throttle", threshold=0.3), 0.3) == "throttle"


def test_verdicts_become_actions_once_and_reversal_sticks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    log = ActionLog(url)
    admission = ActionStore(url)
    try:
        taken = apply(log, _report(("k1", 0.9), ("k2", 0.6), ("k3", 0.2)), LADDER)
        assert {(a.key_id, a.action) for a in taken} == {("k1", "block"), ("k2", "flag")}
        assert apply(log, _report(("k1", 0.9), ("k2", 0.6)), LADDER) == []  # in force already
        assert [a.action for a in apply(log, _report(("k2", 0.85)), LADDER)] == ["block"]
        log.reverse("k1", "admin", "a false positive")
        assert apply(log, _report(("k1", 0.95)), LADDER) == []  # an admin cleared it
        in_force = admission.in_force()
        assert set(in_force) == {"k2"} and in_force["k2"].action == "block"
        assert len(log.all()) == 3
    finally:
        log.close()
        admission.close()


def test_observe_takes_no_action_and_bad_input_is_refused(tmp_path: Path) -> None:
    log = ActionLog(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert apply(log, _report(("k1", 1.0)), AbuseConfig()) == []
        with pytest.raises(BadRequest):
            log.record("k1", "observe", 1.0, None, [], "admin")
        with pytest.raises(NotFound):
            log.reverse("nobody", "admin")
    finally:
        log.close()
