"""The policy: a scan's verdicts -> actions on keys (`action_log.py`), which admission then
enforces per request (`security/abuse/guard.py`)."""

from __future__ import annotations

from tokenport.abusescan.action_log import ActionLog
from tokenport.abusescan.report import Report
from tokenport.config import AbuseConfig, AbuseRule
from tokenport.security.abuse.actions import SEVERITY, Action


def rules(cfg: AbuseConfig) -> list[AbuseRule]:
    """The ladder, highest score first; `policy` at `threshold` when none is configured."""
    ladder = cfg.rules or [AbuseRule(min_score=cfg.threshold, action=cfg.policy)]
    return sorted(ladder, key=lambda r: (-r.min_score, -SEVERITY[r.action]))


def decide(cfg: AbuseConfig, score: float) -> str:
    for rule in rules(cfg):
        if score >= rule.min_score:
            return rule.action
    return "observe"


def apply(store: ActionLog, report: Report, cfg: AbuseConfig, by: str = "scan") -> list[Action]:
    """Act on a scan's verdicts by policy; return the actions taken now. Keys whose
    action in force is as strong already, and keys an admin cleared, are left alone."""
    if all(r.action == "observe" for r in rules(cfg)):
        return []
    latest = store.latest()
    taken: list[Action] = []
    for account in report.accounts:
        action = decide(cfg, account.score)
        if action == "observe":
            continue
        before = latest.get(account.key_id)
        if before is not None and (
            not before.in_force or SEVERITY[before.action] >= SEVERITY[action]
        ):
            continue
        taken.append(
            store.record(
                account.key_id,
                action,
                account.score,
                account.cluster,
                account.reasons,
                by,
            )
        )
    return taken
