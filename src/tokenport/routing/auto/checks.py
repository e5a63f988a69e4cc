"""Checks a cascade's verifiers run on an answer's own text, with no model call. stdlib only.

- `arithmetic(text)`: re-computes every `a op b = c` the answer writes (chains `a = b = c`
  too, and GSM8K-style `<<a*b=c>>` calculator notes) and counts the equalities that hold and
  those that do not. A wrong sum written out is a wrong answer more often than not, whatever
  the task's format.
- `canonical(prompt, answer)`: the part two answers must share to agree: the chosen letter
  when the prompt lists lettered options, else the final number, else the short answer's
  words; None for long free text and for code, which `similarity` compares instead.
- `code_blocks(answer)`: the Python an answer carries (fenced, or `[PYTHON]` tags).
- `stated_tests(prompt)`: `assert` lines a coding prompt states, to run against the answer.

Everything here is bounded (lengths, expression sizes), so a hostile answer costs microseconds.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from collections.abc import Callable

MAX_TEXT = 20_000  # characters of an answer the checks read
_MAX_EXPR = 80
_MAX_EQUALITIES = 200
_SPAN = re.compile(r"[\d$(][\d\s.,+\-*/x×÷()$%=]*[\d)%]")
_NOTE = re.compile(r"<<([^<>]{1,200})>>")
_OPERATOR = re.compile(r"[\d)]\s*[-+*/]\s*[\d(]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TIMES = re.compile(r"(?<=[\d)])\s*x\s*(?=[\d(])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_NOT_ARITH = re.compile(r"[^\d\s.+\-*/()]")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_OPTION = re.compile(r"^\s*\(?([A-J])[).:]\s", re.M)
# A letter alone (`B`, `(C) green`, `D.`), not a word that starts the answer (`I think`).
_LEAD_LETTER = re.compile(r"^\W{0,3}([A-J])(?:[).:\]]|\s*$|\s*\n)")
_SAID_LETTER = re.compile(r"(?i)\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-J])\b")
_WORDS = re.compile(r"\w+")
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)
_TAGGED = re.compile(r"\[PYTHON\](.*?)\[/PYTHON\]", re.S)
_ASSERT = re.compile(r"^\s*assert\b.+$", re.M)

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _evaluate(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ValueError("division by zero")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    raise ValueError("not arithmetic")


def _value(part: str) -> tuple[float, bool] | None:
    """The number a side of an equality stands for, and whether it was computed (has an
    operator); None when the side is not plain arithmetic (a variable, a unit, a date)."""
    if len(part) > 2 * _MAX_EXPR:
        return None
    e = part.strip().replace("$", "").replace("×", "*").replace("÷", "/")
    e = _THOUSANDS.sub("", e)
    e = _TIMES.sub("*", e)
    e = _PERCENT.sub(r"(\1/100)", e)
    if not e or len(e) > _MAX_EXPR or _NOT_ARITH.search(e):
        return None
    try:
        value = _evaluate(ast.parse(e, mode="eval").body)
    except (SyntaxError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    if not math.isfinite(value):
        return None
    return value, bool(_OPERATOR.search(e))


def arithmetic(text: str) -> tuple[int, int]:
    """(equalities that hold, equalities that do not) among those the text computes."""
    text = text[:MAX_TEXT]
    notes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        notes.append(m.group(1))
        return " "

    text = _NOTE.sub(keep, text)
    held = wrong = 0
    spans = [s for s in notes + [m.group(0) for m in _SPAN.finditer(text)] if "=" in s]
    for span in spans[:_MAX_EQUALITIES]:
        sides = [_value(p) for p in span.split("=")[:_MAX_EQUALITIES]]
        for a, b in itertools.pairwise(sides):
            if a is None or b is None or not (a[1] or b[1]):
                continue  # `3 = 3` computes nothing; a side we cannot read breaks the chain
            x, y = a[0], b[0]
            # Answers round: 1% or a cent of slack, so 33.33 for 100/3 holds.
            if abs(x - y) <= max(0.011, 0.01 * max(abs(x), abs(y))):
                held += 1
            else:
                wrong += 1
    return held, wrong


def numbers(text: str) -> list[float]:
    out = []
    for raw in _NUMBER.findall(text[:MAX_TEXT]):
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        if math.isfinite(value):  # 400 digits make inf, which no check can use
            out.append(value)
    return out


def final_number(answer: str) -> float | None:
    """The last number in the answer's last two non-empty lines: where answers conclude."""
    lines = [ln for ln in answer[-2000:].splitlines() if ln.strip()]
    found = numbers("\n".join(lines[-2:]))
    return found[-1] if found else None


def has_options(prompt: str) -> bool:
    """The prompt lists lettered options (A) ..., B. ...): answers are compared by letter."""
    return len(set(_OPTION.findall(prompt[-4000:]))) >= 2


def canonical(prompt: str, answer: str, options: bool | None = None) -> str | None:
    a = answer.strip()[:MAX_TEXT]
    if not a or code_blocks(a):  # code concludes nothing comparable: `similarity` instead
        return None
    if has_options(prompt) if options is None else options:
        m = _LEAD_LETTER.match(a) or _SAID_LETTER.search(a)
        if m:
            return m.group(1).upper()
    n = final_number(a)
    if n is not None:
        return f"{n:.6g}"
    if len(a) <= 60:
        return " ".join(_WORDS.findall(a.lower()))
    return None


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the two answers' word sets: a soft agreement for free text."""
    wa, wb = set(_WORDS.findall(a[:MAX_TEXT].lower())), set(_WORDS.findall(b[:MAX_TEXT].lower()))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def code_blocks(answer: str) -> list[str]:
    text = answer[:MAX_TEXT]
    return [b for b in _FENCE.findall(text) + _TAGGED.findall(text) if b.strip()]


def stated_tests(prompt: str) -> list[str]:
    """The `assert` lines a coding prompt states (MBPP and HumanEval style)."""
    return [m.group(0).strip() for m in _ASSERT.finditer(prompt[-8000:])][:20]
