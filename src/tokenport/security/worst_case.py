"""The most a request can cost before it is sent: what admission reserves, in credit (USD) and
in tokens per minute. Counted on the high side, and without a tokenizer call (hot path).

Prompt tokens, as an upstream bills them:
- text (message content, a tool call's arguments, a tool's result, names): UTF-8 bytes / 3.
  English BPE runs near 4 characters a token; counting bytes makes CJK text about a token a
  character, as its tokenizers roughly count it.
- 4 tokens a message, for the chat template around it.
- `tools` and `response_format` (a JSON schema) are rendered into the prompt by the upstream,
  so their JSON counts as text. So do request fields passed through unknown (`extra`).
- An image costs `IMAGE_TOKENS`, whatever its size in bytes: upstreams bill an image by its
  pixels, after scaling big ones down. The most a mainstream model bills one image is about
  3,800 tokens: OpenAI's patch-based models bill up to 1,536 patches times a per-model factor
  (2.46 for gpt-4.1-nano: 3,779), its tile-based ones up to 1,445 (gpt-4o, high detail),
  Anthropic about 1,600 (1.15 megapixels / 750), Gemini 258 per 768-pixel tile.
  A 3 MB image therefore reserves 4,096 tokens, not a million.
- Any other non-text part (audio, files) counts as its JSON text: high, never low.

Output tokens, per choice: the request's cap (`max_completion_tokens` or `max_tokens`),
clamped to the route's max output (or context length); without a cap, that maximum. With
neither a cap nor a known maximum, admission caps the request at `DEFAULT_OUTPUT` itself.

`n` choices: each may be billed the whole prompt and output (an upstream that runs n choices
as n requests does), so both are multiplied by n.

The price is the dearest candidate route's: a fallback may land on any of them. When the
upstream bills more than this anyway, the key is charged the actual cost and carries the
debt until topped up (`ledger/charges.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from tokenport.ledger.charges import NANO, to_nano
from tokenport.values import ChatRequest, Message, Route

IMAGE_TOKENS = 4_096
DEFAULT_OUTPUT = 4_096
BYTES_PER_TOKEN = 3
PER_MESSAGE_TOKENS = 4
# A bound for absurd requests (max_tokens of 2^63, n of a billion): far above any credit,
# and inside a database BIGINT and a Lua number, so the refusal is a 402 or 429, not a crash.
MAX_TOKENS = 2**52
MAX_NANO = 2**62
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_json = msgspec.json.Encoder().encode


class WorstCase(NamedTuple):
    prompt_tokens: int  # per choice
    output_tokens: int  # per choice, at the dearest route
    choices: int
    tokens: int  # prompt + output over all choices, at the route allowing the most output
    nano: int  # at the dearest route, in nano-USD, rounded up

    @property
    def usd(self) -> float:
        return self.nano / NANO


def prompt_tokens(request: ChatRequest) -> int:
    """The prompt as an upstream will bill it, per choice, on the high side."""
    nbytes = images = 0
    for m in request.messages:
        b, i = _message_size(m)
        nbytes, images = nbytes + b, images + i
    for extra in (request.tools, request.response_format, request.extra or None):
        if extra:
            nbytes += len(_json(extra))
    tokens = nbytes // BYTES_PER_TOKEN + PER_MESSAGE_TOKENS * len(request.messages)
    return min(tokens + IMAGE_TOKENS * images, MAX_TOKENS)


def output_bound(request: ChatRequest, route: Route) -> int | None:
    """The most output tokens one choice may bill on `route`; None if nothing bounds it."""
    cap = request.output_cap()
    most = route.max_output or route.context_length
    if cap is None:
        return most
    cap = max(0, cap)
    return min(cap, most) if most else min(cap, MAX_TOKENS)


def worst_case(request: ChatRequest, routes: Sequence[Route]) -> WorstCase:
    """The request's worst case over `routes`. Every route must have an `output_bound`
    (admission sets a cap on requests that have none)."""
    prompt = prompt_tokens(request)
    choices = max(1, request.n or 1)
    dearest = (0.0, 0)
    most_tokens = 0
    for route in routes:
        out = output_bound(request, route)
        if out is None:
            raise ValueError(f"no output bound for {route.model_id}; cap the request first")
        usd_per_choice = (prompt * route.pricing.input + out * route.pricing.output) / 1e6
        dearest = max(dearest, (usd_per_choice, out))
        most_tokens = max(most_tokens, prompt + out)
    usd = dearest[0] * choices
    nano = MAX_NANO if not usd < MAX_NANO / NANO else min(to_nano(usd), MAX_NANO)
    tokens = min(most_tokens * choices, MAX_TOKENS)
    return WorstCase(prompt, dearest[1], choices, tokens, nano)


def _message_size(m: Message) -> tuple[int, int]:
    """(bytes of text, images) in one message."""
    nbytes = images = 0
    content = m.content
    if isinstance(content, str):
        nbytes += len(content.encode())
    elif content:
        for part in content:
            b, i = _part_size(part)
            nbytes, images = nbytes + b, images + i
    for text in (m.name, m.tool_call_id, m.reasoning_content):
        if text:
            nbytes += len(text.encode())
    if m.tool_calls:
        nbytes += len(_json(m.tool_calls))
    return nbytes, images


def _part_size(part: Any) -> tuple[int, int]:
    if not isinstance(part, dict):
        return len(_json(part)), 0
    kind = part.get("type")
    if kind in _IMAGE_PARTS:
        return 0, 1
    text = part.get("text")
    if kind in (None, "text", "input_text") and isinstance(text, str):
        return len(text.encode()), 0
    return len(_json(part)), 0
