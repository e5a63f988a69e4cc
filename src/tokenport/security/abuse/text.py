"""The parts of a request the abuse signals read: system prompt, the user's prompt, the
conversation's shape, and the prompt's template (its fixed frame, with the slots a script
fills in normalised away)."""

from __future__ import annotations

import re
from typing import NamedTuple

from tokenport.tokens import message_text
from tokenport.values import ChatRequest, Message

# Sketches read at most this much of a prompt: enough to tell templates apart, and a long
# pasted document costs no more than a short one.
MAX_SKETCH_CHARS = 2000


class Parts(NamedTuple):
    system: str
    user: str
    depth: int  # user turns
    tool_turns: int  # tool results and assistant turns that called tools
    assistant_turns: int
    context_chars: int


def _chars(m: Message) -> int:
    """A message's text length, without building its text (agents send 100k+ characters)."""
    c = m.content
    if isinstance(c, str):
        n = len(c)
    elif c is None:
        n = 0
    else:
        n = sum(len(str(p.get("text", ""))) for p in c if isinstance(p, dict))
    return n + sum(len(str(call)) for call in m.tool_calls or ())


def parts(request: ChatRequest) -> Parts:
    system: list[str] = []
    last_user: Message | None = None
    depth = tool_turns = assistant = chars = 0
    for m in request.messages:
        chars += _chars(m)
        if m.role in ("system", "developer"):
            system.append(message_text(m))
        elif m.role == "user":
            depth += 1
            last_user = m
        elif m.role in ("tool", "function"):
            tool_turns += 1
        elif m.role == "assistant":
            assistant += 1
            if m.tool_calls:
                tool_turns += 1
    user = message_text(last_user) if last_user is not None else ""
    return Parts("\n".join(system), user, depth, tool_turns, assistant, chars)


_CODE = re.compile(r"```.*?(?:```|$)", re.S)
_DIGIT = re.compile(r"\d")
_SENTENCE_END = (".", "!", "?", ":", "\n")


def _slot(token: str, previous: str) -> str:
    if token.startswith(("http://", "https://", "www.")):
        return "<url>"
    if "@" in token and "." in token:
        return "<email>"
    if _DIGIT.search(token):
        return "<n>"  # numbers, dates, amounts, ids
    first = token[0]
    if first in "\"'`“‘" and len(token) > 1:
        first = token[1]
    if (
        first.isupper()
        and len(token) > 1
        and ((previous and not previous.endswith(_SENTENCE_END)) or token.isupper())
    ):
        return "<name>"  # a capitalised word inside a sentence, or an acronym
    return token


def template(text: str) -> str:
    """The prompt with its slots normalised: code blocks, URLs, e-mail addresses, anything
    with a digit (numbers, dates, ids) and names (capitalised words inside a sentence,
    acronyms) become placeholders. Two prompts a script made from one frame have one
    template, or templates that differ only where a topic word went in."""
    t = text[:MAX_SKETCH_CHARS]
    if "```" in t:
        t = _CODE.sub(" <code> ", t)
    out: list[str] = []
    previous = ""
    for token in t.split():
        # Most words are plain lower-case words, which no slot rule touches: skip the rules.
        out.append(token if token.isalpha() and token.islower() else _slot(token, previous))
        previous = token
    return " ".join(out).lower()
