"""Harvesting prompts: one question about a concept, worded afresh each time.

`effort` in 0..1 is how hard the wording hides: at 0 every prompt is the same template with
the same chain-of-thought line; towards 1 the opener, the task verb, the clause order, the
chain-of-thought phrasing, word-level synonyms, casing and punctuation all vary, and the
coercion is sometimes left implicit ("I want to see how you get there").
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tokenport.lab.redteam import words

_WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True, slots=True)
class Item:
    """One point of the topic space: a concept of a subject, and the task asked of it."""

    subject: str
    concept: str
    task: str  # a key of words.TASKS


def curriculum() -> list[Item]:
    """Every (subject, concept, task) point, in a fixed order."""
    return [
        Item(subject, concept, task)
        for subject, concepts in words.SUBJECTS.items()
        for concept in concepts
        for task in words.TASKS
    ]


def template(item: Item) -> str:
    """The effort-0 wording: what a careless harvester sends every time."""
    return (
        f"Explain {item.concept} ({item.subject}) in detail. Think step by step and show "
        "your full reasoning before the final answer."
    )


def _pick(rng: random.Random, effort: float, options: tuple[str, ...]) -> str:
    """The first option at effort 0; any option as effort grows."""
    span = max(1, round(len(options) * effort))
    return options[rng.randrange(span)]


def _swap_synonyms(text: str, rng: random.Random, rate: float) -> str:
    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        alts = words.SYNONYMS.get(w.lower())
        if not alts or rng.random() >= rate:
            return w
        alt = rng.choice(alts)
        return alt.capitalize() if w[0].isupper() else alt

    return _WORD.sub(swap, text)


def _request_clause(item: Item, rng: random.Random, effort: float) -> str:
    opener = _pick(rng, effort, words.OPENERS)
    verb = _pick(rng, effort, words.TASKS[item.task])
    subject = f" in {item.subject}" if rng.random() < 0.5 + effort / 2 else f" ({item.subject})"
    if item.task == "compare":
        other = rng.choice([c for c in words.SUBJECTS[item.subject] if c != item.concept])
        core = f"{verb} {item.concept} and {other}{subject}"
    else:
        core = f"{verb} {item.concept}{subject}"
    depth = _pick(rng, effort, words.DEPTH)
    text = f"{opener} {core} {depth}".strip()
    return text[0].upper() + text[1:]


def paraphrase(item: Item, rng: random.Random, effort: float) -> str:
    """A harvesting prompt for `item` that coerces a chain of thought."""
    if effort <= 0:
        return template(item)
    clauses = [_request_clause(item, rng, effort) + "."]
    audience = _pick(rng, effort, words.AUDIENCE)
    if audience:
        clauses.append(f"Pitch it {audience}.")
    cot = [_pick(rng, effort, words.COT)]
    if rng.random() < effort * 0.5:  # two coercions, differently put
        cot.append(rng.choice(words.COT))
    clauses.extend(cot)
    if rng.random() < effort:  # reorder: the coercion may come first
        rng.shuffle(clauses)
    text = " ".join(dict.fromkeys(clauses))
    text = _swap_synonyms(text, rng, 0.6 * effort)
    return _noise(text, rng, effort)


def _noise(text: str, rng: random.Random, effort: float) -> str:
    """What hurried people do to text: lower case, no final stop, doubled spaces removed."""
    if rng.random() < 0.3 * effort:
        text = text.lower()
    if rng.random() < 0.3 * effort:
        text = text.rstrip(".")
    return re.sub(r"\s+", " ", text)


def word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))
