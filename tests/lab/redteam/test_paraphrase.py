"""Harvesting prompts: worded afresh at high effort, one template at effort 0."""

from __future__ import annotations

import itertools
import random

from tokenport.lab.redteam.paraphrase import curriculum, paraphrase, template, word_set


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def test_paraphrases_of_one_request_differ_in_their_words() -> None:
    item = curriculum()[5]
    rng = random.Random(1)
    texts = [paraphrase(item, rng, 1.0) for _ in range(40)]
    assert len(set(texts)) >= 38
    sims = [_jaccard(word_set(a), word_set(b)) for a, b in itertools.combinations(texts, 2)]
    assert sum(sims) / len(sims) < 0.5  # most word sets overlap less than half
    assert all(item.concept.split()[-1].lower() in t.lower() for t in texts)


def test_effort_zero_is_one_fixed_template() -> None:
    item = curriculum()[0]
    rng = random.Random(2)
    assert {paraphrase(item, rng, 0.0) for _ in range(10)} == {template(item)}


def test_more_effort_more_distinct_wordings() -> None:
    item = curriculum()[9]

    def distinct(effort: float) -> int:
        rng = random.Random(3)
        return len({" ".join(sorted(word_set(paraphrase(item, rng, effort)))) for _ in range(60)})

    assert distinct(0.2) < distinct(1.0)


def test_chain_of_thought_phrasing_is_not_one_phrase() -> None:
    rng = random.Random(4)
    texts = [paraphrase(it, rng, 1.0) for it in curriculum()[:200]]
    with_step_by_step = sum("step by step" in t.lower() for t in texts)
    assert with_step_by_step < len(texts) * 0.3
