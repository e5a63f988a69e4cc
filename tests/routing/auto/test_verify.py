"""The cascade's verifiers on answers whose verdict is known."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tokenport.routing.auto import checks, sandbox, verify


@pytest.mark.parametrize(
    ("text", "held", "wrong"),
    [
        ("3 + 4 = 7", 1, 0),
        ("3 + 4 = 8", 0, 1),
        ("She pays 2 * $1,250 = $2,500 in total.", 1, 0),
        ("12 / 4 = 3 = 3", 1, 0),  # a plain restatement computes nothing
        ("5 + 5 = 10 and 10 x 3 = 31", 1, 1),
        ("100 / 3 = 33.33", 1, 0),  # rounding is not an error
        ("20% of 50 = 10", 0, 0),  # `of` is not arithmetic: nothing checked
        ("50 * 20% = 10", 1, 0),
        ("the total is $<<16-3-4=9>>9 eggs, so 9 * 2 = 18", 2, 0),
        ("<<6*7=41>>41", 0, 1),
        ("x = 2 + 3 = 5", 1, 0),
        ("1/0 = 5", 0, 0),
    ],
)
def test_arithmetic_recomputes_what_the_answer_writes(text: str, held: int, wrong: int) -> None:
    assert checks.arithmetic(text) == (held, wrong)


def test_arithmetic_is_bounded_on_hostile_text() -> None:
    t0 = time.perf_counter()
    checks.arithmetic("9" * 5000 + " = " + "(" * 3000 + "1" + ")" * 3000 + " = 2 " * 2000)
    checks.arithmetic("1" + "+1" * 10_000 + " = 3")
    assert time.perf_counter() - t0 < 0.5
    assert checks.numbers("1" * 400) == []  # beyond float range: skipped, not inf


@pytest.mark.parametrize(
    ("prompt", "answer", "expected"),
    [
        ("Pick one:\nA) red\nB) blue\nC) green", "B", "B"),
        ("Pick one:\nA) red\nB) blue\nC) green", "(C) green, because", "C"),
        ("Pick one:\nA) red\nB) blue", "I think the answer is A.", "A"),
        ("How many eggs?", "She has 9 eggs.\n#### 9", "9"),
        ("How many eggs?", "So 16 - 7 = 9.00 eggs", "9"),
        ("Capital of France?", "Paris.", "paris"),
        ("Write a poem.", "Roses " * 30, None),
    ],
)
def test_canonical_answers(prompt: str, answer: str, expected: str | None) -> None:
    assert checks.canonical(prompt, answer) == expected


def test_agreement_compares_conclusions_not_wording() -> None:
    p = "How many eggs does she sell?"
    assert verify.agreement(p, "16 - 7 = 9, so 9", "She sells nine... that is 9") == 1.0
    assert verify.agreement(p, "#### 9", "#### 8") == 0.0
    long_a = "The sea is wide and blue and full of fish " * 3
    assert verify.agreement("Describe the sea.", long_a, long_a) == 1.0
    assert verify.agreement("Describe the sea.", long_a, "Mountains are tall. " * 5) < 0.2
    pick, cues = verify.consensus("A) x\nB) y\nC) z", ["A", "B", "B"], [0.9, 0.5, 0.6])
    assert pick == 2 and cues[0] == pytest.approx(0.5) and cues[1] == 0.0  # ties -> prior
    _, cues = verify.consensus("A) x\nB) y", ["A", "A"], [0.5, 0.5])
    assert list(cues) == [1.0, 1.0]


def test_answer_cues_flag_what_they_name() -> None:
    names = verify.ANSWER_CUES

    def cue(answer: str, name: str, prompt: str = "Q?", finish: str | None = None) -> float:
        return float(verify.answer_cues(prompt, answer, finish)[names.index(name)])

    assert cue("It cost $4", "truncated", finish="length") == 1.0
    assert cue("It cost $4.", "truncated", finish="stop") == 0.0
    assert cue("The house's value after the repairs is 80,000 + 50,000 = $130,00", "truncated")
    assert cue("I'm sorry, but I cannot help with that.", "refusal") == 1.0
    assert cue("Assuming she has 3, the answer is 5.", "hedge") == 1.0
    assert cue("a\na\na\nb", "repetition") == pytest.approx(0.5)
    assert cue("2 + 2 = 5", "arith_wrong") > 0 and cue("2 + 2 = 4", "arith_wrong") == 0
    assert cue("So 7.", "numbers_unused", prompt="3 apples and 4 pears") == 1.0
    assert cue("3 + 4 = 7", "numbers_unused", prompt="3 apples and 4 pears") == 0.0
    assert cue("The answer is 7.5", "final_not_integer") == 1.0
    assert cue("3 + 4 = 7\nSo 7", "final_unsupported") == 0.0
    assert cue("3 and 4 make\n12", "final_unsupported") == 1.0
    assert verify.answer_cues("q", "").shape == (len(names),)


def test_logprobs_and_self_check_parsing() -> None:
    lp = {"content": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]}
    assert verify.logprob_mean(lp) == pytest.approx(-1.0)
    assert verify.logprob_mean(None) is None and verify.logprob_mean({"content": []}) is None
    assert verify.self_check_verdict("Yes.") is True
    assert verify.self_check_verdict("no, the sum is wrong") is False
    assert verify.self_check_verdict("I cannot tell") is None
    prompt = verify.self_check_prompt("Q" * 10_000, "A")
    assert len(prompt) < 9000 and prompt.rstrip().endswith("</proposed_answer>")
    assert all(v.cost for v in verify.VERIFIERS.values())  # each verifier says what it costs


CODE_OK = "```python\ndef add(a, b):\n    return a + b\n\nprint(add(2, 3))  # Output: 5\n```"
CODE_CLAIM_WRONG = (
    "```python\ndef add(a, b):\n    return a - b\n\nprint(add(2, 3))  # Output: 5\n```"
)


def test_sandbox_runs_the_answer_and_the_prompts_tests() -> None:
    ok = sandbox.run(CODE_OK, "Write add.\nassert add(1, 1) == 2")
    assert (ok.parses, ok.ran, ok.claims, ok.claims_wrong, ok.tests, ok.tests_failed) == (
        True,
        True,
        1,
        0,
        1,
        0,
    )
    bad = sandbox.run(CODE_CLAIM_WRONG, "Write add.\nassert add(1, 1) == 2")
    assert bad.claims_wrong == 1 and bad.tests_failed == 1
    assert sandbox.run("no code here", "") == sandbox.CodeResult()
    assert not sandbox.run("```python\ndef f(:\n```", "").parses
    assert not sandbox.run("```python\nraise SystemExit(3)\n```", "").ran
    cues = verify.code_cues(bad)
    assert cues[verify.CODE_CUES.index("claims_wrong")] == 1.0


def test_sandbox_limits_time_memory_and_files(tmp_path: object) -> None:
    t0 = time.perf_counter()
    spin = sandbox.run("```python\nwhile True:\n    pass\n```", "", time_limit_s=0.5)
    assert spin.timed_out and time.perf_counter() - t0 < 3
    hog = sandbox.run("```python\nx = bytearray(4 << 30)\n```", "")
    assert not hog.ran
    write = sandbox.run("```python\nopen('big', 'w').write('x' * (8 << 20))\n```", "")
    assert not write.ran
    env = sandbox.run("```python\nimport os\nassert not os.environ.get('HOME')\n```", "")
    assert env.ran  # the child gets no environment (no keys, no tokens)
    got = asyncio.run(sandbox.arun(CODE_OK, ""))
    assert got.ran and got.claims == 1


def test_answer_cue_cost_is_microseconds() -> None:
    answer = "Janet has 16 eggs. 16 - 3 - 4 = 9. 9 * $2 = $18.\n#### 18\n" * 20
    verify.answer_cues("q 16 3 4 2", answer)
    t0 = time.perf_counter()
    for _ in range(100):
        verify.answer_cues("q 16 3 4 2", answer)
    assert (time.perf_counter() - t0) / 100 < 0.005
    assert np.isfinite(verify.answer_cues("q", answer)).all()
