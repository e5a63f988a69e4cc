"""Scenarios: every style and population present, deterministic per seed, effort override."""

from __future__ import annotations

from tokenport.lab.redteam.campaigns import STYLES
from tokenport.lab.redteam.honest import POPULATIONS
from tokenport.lab.redteam.scenario import SCENARIOS, build, with_effort


def test_every_scenario_has_every_style_and_population() -> None:
    for sc in SCENARIOS.values():
        assert {c.style for c in sc.campaigns} == set(STYLES)
        assert {u.population for u in sc.honest} == set(POPULATIONS)


def test_build_is_deterministic_per_seed_and_drops_keys_without_traffic() -> None:
    a, b, c = (build(SCENARIOS["tiny"], s) for s in (1, 1, 2))
    assert [len(x.requests) for x in a] == [len(x.requests) for x in b]
    assert [r.messages for x in a for r in x.requests] != [
        r.messages for x in c for r in x.requests
    ]
    assert all(x.requests for x in a)
    assert all(x.requests == sorted(x.requests, key=lambda r: r.ts) for x in a)


def test_with_effort_sets_every_campaign() -> None:
    sc = with_effort(SCENARIOS["small"], 0.25)
    assert {c.effort for c in sc.campaigns} == {0.25}
    assert sc.honest == SCENARIOS["small"].honest
