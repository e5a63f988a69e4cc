"""Scenarios: how many campaigns of each style, at what effort, among which honest units."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from tokenport.lab.redteam.campaigns import STYLES
from tokenport.lab.redteam.honest import POPULATIONS
from tokenport.lab.redteam.model import Account, Window

START = 1_795_392_000.0  # 2026-11-23 00:00 UTC, a Monday


@dataclass(frozen=True, slots=True)
class Campaign:
    style: str
    accounts: int
    effort: float


@dataclass(frozen=True, slots=True)
class Unit:
    population: str
    units: int
    accounts: int  # per unit


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    days: int
    campaigns: tuple[Campaign, ...]
    honest: tuple[Unit, ...]

    def window(self) -> Window:
        return Window(START, self.days)


def _every_style(accounts: int, effort: float, copies: int = 1) -> tuple[Campaign, ...]:
    return tuple(
        Campaign(s, accounts * (3 if s == "slow_and_low" else 1), effort)
        for s in STYLES
        for _ in range(copies)
    )


SCENARIOS: dict[str, Scenario] = {
    "tiny": Scenario(  # the end-to-end test's: seconds, not a measurement
        "tiny",
        2,
        _every_style(2, 0.8),
        tuple(Unit(p, 1, 1 if p in ("eval_harness", "hackathon") else 3) for p in POPULATIONS),
    ),
    "small": Scenario(
        "small",
        5,
        _every_style(5, 0.8),
        (
            Unit("chat", 1, 60),
            Unit("classroom", 1, 20),
            Unit("hackathon", 1, 10),
            Unit("eval_harness", 1, 2),
            Unit("coding_agent", 1, 8),
            Unit("saas_app", 2, 2),
            Unit("translator_writer", 1, 8),
        ),
    ),
    "large": Scenario(
        "large",
        14,
        _every_style(10, 0.5, 2) + _every_style(10, 1.0, 2),
        (
            Unit("chat", 1, 800),
            Unit("classroom", 4, 28),
            Unit("hackathon", 2, 30),
            Unit("eval_harness", 3, 3),
            Unit("coding_agent", 2, 50),
            Unit("saas_app", 6, 4),
            Unit("translator_writer", 1, 60),
        ),
    ),
}


def with_effort(sc: Scenario, effort: float) -> Scenario:
    """The same scenario with every campaign at one effort."""
    return replace(sc, campaigns=tuple(replace(c, effort=effort) for c in sc.campaigns))


def build(sc: Scenario, seed: int) -> list[Account]:
    """Every account of the scenario, its requests in time order."""
    rng = random.Random(seed)
    w = sc.window()
    out: list[Account] = []
    for i, c in enumerate(sc.campaigns):
        out += STYLES[c.style](rng, w, c.accounts, c.effort, f"{c.style}-{i}")
    for u in sc.honest:
        for j in range(u.units):
            out += POPULATIONS[u.population](rng, w, u.accounts, f"{u.population}-{j}")
    for a in out:
        a.requests.sort(key=lambda r: r.ts)
    return [a for a in out if a.requests]  # a key with no traffic is not in any scan
