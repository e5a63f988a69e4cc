"""The red team's upstream answers at length when asked to reason, briefly otherwise."""

from __future__ import annotations

from typing import Any

from tokenport.lab.redteam.upstream import answer


def _ask(text: str, **extra: Any) -> dict[str, Any]:
    return answer({"messages": [{"role": "user", "content": text}], **extra})


def test_reasoning_requests_get_long_answers_with_reasoning() -> None:
    cot = _ask("Derive the chain rule in detail. Think step by step and show your working.")
    chat = _ask("What's a good name for a puppy?")
    assert cot["usage"]["completion_tokens"] > 3 * chat["usage"]["completion_tokens"]
    assert "reasoning_content" in cot["choices"][0]["message"]
    assert "reasoning_content" not in chat["choices"][0]["message"]


def test_max_tokens_caps_the_answer_and_says_length() -> None:
    capped = _ask("Prove it step by step, in detail, with every inference.", max_tokens=100)
    assert capped["usage"]["completion_tokens"] <= 100
    assert capped["choices"][0]["finish_reason"] == "length"


def test_offered_tools_it_calls_one() -> None:
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {}}}]
    out = _ask("fix the test", tools=tools)
    assert out["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "bash"
