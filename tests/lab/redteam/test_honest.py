"""Honest hard negatives share what real ones share."""

from __future__ import annotations

import random

from tokenport.lab.redteam import honest, words
from tokenport.lab.redteam.model import Account, Window

W = Window(1_795_392_000.0, 7)


def _make(pop: str, n: int, seed: int = 11) -> list[Account]:
    return honest.POPULATIONS[pop](random.Random(seed), W, n, pop)


def _system(a: Account) -> set[str]:
    return {m.content for r in a.requests for m in r.messages if m.role == "system"}


def test_every_population_is_honest_and_has_traffic() -> None:
    for pop in honest.POPULATIONS:
        accts = _make(pop, 4)
        assert all(a.label == "honest" and a.group == pop for a in accts)
        assert sum(len(a.requests) for a in accts) > 0


def test_a_classroom_shares_network_keys_bought_together_and_one_assignment() -> None:
    accts = _make("classroom", 25)
    assert len({a.created_ip for a in accts} | {r.ip for a in accts for r in a.requests}) == 1
    made = [a.created_at for a in accts]
    assert max(made) - min(made) <= 600
    texts = " ".join(r.messages[-1].content.lower() for a in accts for r in a.requests)
    assert sum(s in texts for s in words.SUBJECTS if f"({s})" in texts or f"in {s}" in texts) == 1
    assert all("show your work" in r.messages[-1].content for a in accts for r in a.requests)


def test_a_hackathon_shares_the_venue_and_a_key_burst() -> None:
    accts = _make("hackathon", 16)
    assert len({r.ip for a in accts for r in a.requests}) == 1
    assert max(a.created_at for a in accts) - min(a.created_at for a in accts) <= 300


def test_coding_agents_share_one_tool_prompt_and_send_tool_results() -> None:
    accts = _make("coding_agent", 6)
    assert set().union(*(_system(a) for a in accts)) == {honest.AGENT_SYSTEM}
    assert all(r.tools for a in accts for r in a.requests)
    assert any(m.role == "tool" for a in accts for r in a.requests for m in r.messages)
    assert len({a.created_ip for a in accts}) == len(accts)  # different people


def test_a_saas_app_shares_its_system_prompt_and_server() -> None:
    accts = _make("saas_app", 4)
    assert len(set().union(*(_system(a) for a in accts))) == 1
    assert len({r.ip for a in accts for r in a.requests}) == 1


def test_an_eval_harness_is_templated_and_regular() -> None:
    (a,) = _make("eval_harness", 1)
    assert all(r.messages[-1].content.startswith("Question: ") for r in a.requests)
    assert {r.max_tokens for r in a.requests} == {2048}


def test_translators_and_writers_send_many_similar_requests() -> None:
    for a in _make("translator_writer", 4):
        heads = {" ".join(r.messages[-1].content.split()[:2]) for r in a.requests}
        assert len(a.requests) >= 10 and len(heads) <= 2
