"""Does a prompt coerce a chain of thought? Rules, shipped with the package.

Distillation wants the model's reasoning, not just its answers, so harvesting prompts ask
for it outright: "think step by step", "show all your work", "explain your reasoning before
the final answer", "put your thinking in <thinking> tags". The rules below match those
phrasings (English, with the common variants); `tests/abusescan/test_detectors.py` holds
positives and negatives, including everyday prompts that mention steps or thinking without
asking for a reasoning trace.

The flag is a bitmask: `TEXT` when the text asks, `REQUESTED` when the request turns the
provider's own reasoning on (a thinking budget, `reasoning_effort`). Detectors weigh the
first far more: coding agents turn reasoning on as a matter of course.
"""

from __future__ import annotations

import functools
import re

from tokenport.values import ChatRequest

TEXT = 1
REQUESTED = 2

_RULES = [
    r"step[- ]by[- ]step",
    r"chain[- ]of[- ]thought",
    r"\bcot\b",
    r"show (?:me )?(?:all )?(?:of )?(?:your|the) (?:work|working|reasoning|thinking|thought"
    r" process|derivation|steps)",
    r"(?:explain|describe|detail|lay out|spell out|walk (?:me )?through|write out|outline)"
    r" (?:all )?(?:of )?(?:your|the|each) (?:full |complete |entire |whole |detailed )?"
    r"(?:reasoning|thought process|thinking|logic|derivation)",
    r"(?:reason|think)(?:ing)? (?:through|about) (?:it|this|the problem|the question)"
    r" (?:carefully|thoroughly|in detail|step)",
    r"think (?:carefully|hard|deeply|it through|out loud|aloud)\b",
    r"let'?s think",
    r"(?:before|then) (?:giving|stating|writing|you give|providing) (?:the|your) (?:final )?"
    r"answer",
    r"(?:full|complete|detailed|entire|explicit|verbose|internal) (?:reasoning|thought process"
    r"|chain|derivation|monologue|deliberation)",
    r"reasoning (?:trace|steps|process|chain)",
    r"<(?:thinking|think|reasoning|scratchpad)>",
    r"\bscratch ?pad\b",
    r"every (?:intermediate|single) step",
    r"(?:each|every) step of (?:your|the) (?:reasoning|solution|derivation)",
    r"justify each step",
    r"work (?:it|this) out (?:carefully|step)",
]
_PATTERN = re.compile("|".join(f"(?:{r})" for r in _RULES), re.I)


# Every rule contains one of these: a plain substring test skips the regex for most text.
_HINTS = ("step", "chain", "cot", "show", "reason", "think", "<", "scratch", "answer",
          "deriv", "monologue", "deliberat", "justify", "work")  # fmt: skip


_HINT = re.compile("|".join(re.escape(h) for h in _HINTS))


def asks_for_reasoning(text: str) -> bool:
    head = text[:8000]
    low = head.lower()
    if _HINT.search(low) is None:
        return False
    return _PATTERN.search(head) is not None


@functools.lru_cache(maxsize=4096)
def _system_asks(system_hash: int, system: str) -> bool:
    return asks_for_reasoning(system)


def flags(request: ChatRequest, prompt: str, system: str, system_hash: int = 0) -> int:
    """`system_hash` (its `sketch.h63`): the verdict on a system prompt is remembered, since
    agents send the same long one with every request."""
    in_system = _system_asks(system_hash, system) if system_hash else asks_for_reasoning(system)
    out = TEXT if asks_for_reasoning(prompt) or in_system else 0
    effort = request.reasoning_effort
    thinking = request.thinking is not None and request.thinking.type != "disabled"
    if thinking or (effort is not None and effort not in ("none", "minimal", "low")):
        out |= REQUESTED
    return out
