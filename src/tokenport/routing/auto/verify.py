"""A cascade's verifiers: what each one reads, what it costs, and the numbers it gives.

Two kinds:
- learned: their numbers are features of the cascade's trust model (`cascade.py`), fitted on
  a routing file's recorded answers, so a file trains them and `router eval` measures them:
  `answer` (the cheap answer's own text: length, truncation, refusals, hedges, repeated
  lines, and the arithmetic it writes re-computed), `code` (its Python run in a sandbox with
  the tests the prompt states), `agreement` (with the next cheap model's answer);
- runtime rules: signals a routing file cannot hold, so nothing can learn them from one:
  `logprobs` (the cheap call's token log-probabilities) and `self_check` (the cheap model
  asked whether its answer is right). Each can only escalate, at a threshold the pool sets;
  `router eval` cannot measure them (the tests check them on scripted upstreams).

Every feature is general: none knows a benchmark's answer format. numpy and stdlib only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import msgspec
import numpy as np
from numpy.typing import NDArray

from tokenport.routing.auto import checks
from tokenport.routing.auto.sandbox import CodeResult

FloatArray = NDArray[np.float64]


class Verifier(msgspec.Struct, frozen=True):
    name: str
    learned: bool  # a feature of the trained trust model (else a runtime rule)
    calls: int  # extra model calls it makes per cascade
    cost: str  # what it costs, in words


VERIFIERS: dict[str, Verifier] = {
    v.name: v
    for v in (
        Verifier(
            "answer",
            True,
            0,
            "no call: regular expressions and the answer's arithmetic re-computed in-process "
            "(tens of microseconds)",
        ),
        Verifier(
            "code",
            True,
            0,
            "no call: one sandboxed Python child per answer that holds code, up to "
            "`code_time_limit_s` (default 2 s) of wall time; answers without code cost nothing",
        ),
        Verifier(
            "agreement",
            True,
            1,
            "one more cheap call: the next cheap model of the trained chain (a learned feature), "
            "or, in a one-model chain, a second sample of the cheap model (a rule)",
        ),
        Verifier(
            "logprobs",
            False,
            0,
            "no extra call: the cheap call asks for token log-probabilities, which adds their "
            "bytes to its response; only upstreams that return them (OpenAI-compatible) count",
        ),
        Verifier(
            "self_check",
            False,
            1,
            "one more cheap call: the question and the answer in a yes/no prompt "
            "(their tokens in, a few tokens out)",
        ),
    )
}

ANSWER_CUES = (
    "log_chars",
    "length_ratio",
    "truncated",
    "empty",
    "refusal",
    "hedge",
    "repetition",
    "arith_held",
    "arith_wrong",
    "numbers_unused",
    "final_not_integer",
    "final_unsupported",
)
CODE_CUES = ("code_broken", "code_failed", "claims_wrong", "tests_failed")
AGREEMENT_CUES = ("agree_share", "all_agree")
PROMPT_CUES = ("prompt_gain", "prompt_quality", "prior_quality")

_REFUSAL = re.compile(
    r"(?i)\b(i'?m sorry|i am sorry|i cannot|i can'?t|i am unable|i'?m unable|as an ai\b|"
    r"i do not have (?:access|the ability)|i won'?t be able)"
)
_HEDGE = re.compile(
    r"(?i)\b(not sure|unclear|assum(?:e|ing)|approximately|cannot be determined|"
    r"not enough information|insufficient information|it depends|wait,|my mistake|"
    r"let me re|actually,|however, this)"
)
_END = re.compile(r"[.!?)\]}`\"'*:>|]\s*$")


def truncated(answer: str, finish_reason: str | None = None) -> bool:
    """Cut off by a length limit: the upstream says so; failing that, the last line is long
    prose that stops without closing punctuation."""
    if finish_reason is not None:
        return finish_reason == "length"
    lines = [ln for ln in answer.rstrip().splitlines() if ln.strip()]
    if not lines:
        return False
    last = lines[-1].strip()
    return len(last) > 40 and _END.search(last) is None


def answer_cues(prompt: str, answer: str, finish_reason: str | None = None) -> FloatArray:
    """The `answer` verifier's numbers, in `ANSWER_CUES` order."""
    a = answer.strip()[: checks.MAX_TEXT]
    lines = [ln.strip() for ln in a.splitlines() if ln.strip()]
    held, wrong = checks.arithmetic(a)
    prompt_numbers = set(checks.numbers(prompt[-checks.MAX_TEXT :]))
    answer_numbers = checks.numbers(a)
    unused = (
        len(prompt_numbers - set(answer_numbers)) / len(prompt_numbers) if prompt_numbers else 0.0
    )
    final = checks.final_number(a)
    # The final number is the result of a computation the answer shows (`... = 18`), or at
    # least appears earlier; a conclusion from nowhere is a guess more often.
    unsupported = 0.0
    if final is not None and answer_numbers:
        shown = answer_numbers[:-1]
        unsupported = float(not any(abs(x - final) < 1e-9 for x in shown))
    return np.array(
        [
            math.log1p(len(a)),
            math.log1p(len(a)) - math.log1p(len(prompt)),
            float(truncated(a, finish_reason)),
            float(not a),
            float(_REFUSAL.search(a[:600]) is not None),
            float(_HEDGE.search(a) is not None),
            1.0 - len(set(lines)) / len(lines) if lines else 0.0,
            math.log1p(held),
            math.log1p(wrong),
            unused,
            float(final is not None and abs(final - round(final)) > 1e-9),
            unsupported,
        ]
    )


def code_cues(result: CodeResult) -> FloatArray:
    """The `code` verifier's numbers, in `CODE_CUES` order; all 0 for an answer without code."""
    if not result.has_code:
        return np.zeros(len(CODE_CUES))
    return np.array(
        [
            float(not result.parses),
            float(result.parses and (not result.ran or result.timed_out)),
            result.claims_wrong / result.claims if result.claims else 0.0,
            result.tests_failed / result.tests if result.tests else 0.0,
        ]
    )


def agreement(prompt: str, a: str, b: str, options: bool | None = None) -> float:
    """1 when two answers reach the same conclusion, 0 when not; for free text with no
    conclusion to compare, the overlap of their words."""
    ca, cb = checks.canonical(prompt, a, options), checks.canonical(prompt, b, options)
    if ca is not None and cb is not None:
        return float(ca == cb)
    return checks.similarity(a, b)


def consensus(
    prompt: str, answers: Sequence[str], prior: Sequence[float]
) -> tuple[int, FloatArray]:
    """Which of several answers to trust (the one the others agree with most; ties to the
    model with the better prior) and the `agreement` numbers, in `AGREEMENT_CUES` order."""
    k = len(answers)
    if k < 2:
        return 0, np.array([1.0, 1.0])
    options = checks.has_options(prompt)
    agree = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            agree[i, j] = agree[j, i] = agreement(prompt, answers[i], answers[j], options)
    support = (agree.sum(1) - 1.0) / (k - 1)
    pick = max(range(k), key=lambda i: (round(float(support[i]), 9), prior[i]))
    return pick, np.array([support[pick], float((agree >= 0.999).all())])


def logprob_mean(logprobs: object) -> float | None:
    """Mean token log-probability of an OpenAI-shaped `logprobs` ({content: [{logprob}]});
    None when the upstream returned none."""
    if not isinstance(logprobs, dict):
        return None
    items = logprobs.get("content")
    if not isinstance(items, list):
        return None
    values = [
        float(x["logprob"])
        for x in items
        if isinstance(x, dict) and isinstance(x.get("logprob"), int | float)
    ]
    return sum(values) / len(values) if values else None


SELF_CHECK_PROMPT = (
    "Here is a request and a proposed answer. Is the proposed answer correct and complete? "
    "Reply with one word, yes or no.\n\n<request>\n{prompt}\n</request>\n\n"
    "<proposed_answer>\n{answer}\n</proposed_answer>"
)
_VERDICT = re.compile(r"(?i)\b(yes|no)\b")


def self_check_prompt(prompt: str, answer: str, max_chars: int = 8000) -> str:
    return SELF_CHECK_PROMPT.format(prompt=prompt[-max_chars:], answer=answer[:max_chars])


def self_check_verdict(reply: str) -> bool | None:
    """True for yes, False for no, None when the reply says neither."""
    m = _VERDICT.search(reply[:200])
    return None if m is None else m.group(1).lower() == "yes"
