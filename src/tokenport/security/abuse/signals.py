"""Compute a request's abuse signals at the edge (`RequestSignals`), cheaply and privately.

Called once per request after parsing, in the event loop: a few hashes, a regex pass and a
MinHash of at most `text.MAX_SKETCH_CHARS` characters (`bench/abuse_bench.py edge` measures
it). Nothing here keeps prompt text unless `store_prompts` asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from tokenport.ledger.signals import RequestSignals
from tokenport.security.abuse import cot, sketch, text, topics
from tokenport.security.clientip import ip_prefix
from tokenport.values import ChatRequest

STORED_PROMPT_CHARS = 4000


def _shape(request: ChatRequest) -> int:
    """The request's parameter shape: which optional fields a client sets, and to what. One
    script sends one shape; people using one SDK share a few."""
    r = request
    thinking = r.thinking.budget_tokens if r.thinking is not None else None
    parts = (
        r.door,
        r.stream,
        r.max_tokens,
        r.max_completion_tokens,
        r.temperature,
        r.top_p,
        r.top_k,
        r.n,
        r.seed is not None,
        r.stop is not None,
        bool(r.tools),
        r.tool_choice if isinstance(r.tool_choice, str) else r.tool_choice is not None,
        r.response_format.get("type") if isinstance(r.response_format, dict) else None,
        r.reasoning_effort,
        thinking,
        r.presence_penalty,
        r.frequency_penalty,
        r.logprobs,
        r.user is not None,
        tuple(sorted(r.extra)) if r.extra else (),
    )
    return sketch.h63(repr(parts))


@functools.lru_cache(maxsize=4096)
def _ua_hash(user_agent: str) -> int:
    # A few SDKs' User-Agents make up nearly all traffic: hash each once.
    return sketch.h63(user_agent)


def compute(
    request: ChatRequest, headers: Mapping[str, str], ip: str, store_prompts: bool = False
) -> RequestSignals:
    p = text.parts(request)
    prompt = p.user[: text.MAX_SKETCH_CHARS]
    tmpl = text.template(prompt)
    prompt_words = sketch.words(prompt)
    # A prompt without slots is its own template: its words, and so its sketch, are the same.
    if "<" in tmpl:
        both = sketch.bands_many([prompt_words, sketch.words(tmpl)])  # one numpy pass
        prompt_bands, template_bands = sketch.pack(both[0]), sketch.pack(both[1])
    else:
        prompt_bands = template_bands = sketch.pack(sketch.bands_of(prompt_words))
    cap = request.max_tokens or request.max_completion_tokens or 0
    system = sketch.h63(p.system)
    return RequestSignals(
        ip=ip,
        prefix=ip_prefix(ip) if ip else "",
        ua=_ua_hash(headers.get("user-agent", "")),
        system=system,
        prompt_a=prompt_bands[0],
        prompt_b=prompt_bands[1],
        template_a=template_bands[0],
        template_b=template_bands[1],
        template=sketch.h63(tmpl),
        chars=len(p.user),
        context_chars=p.context_chars,
        max_tokens=cap,
        cot=cot.flags(request, prompt, p.system, system),
        tools=len(request.tools or ()),
        tool_turns=p.tool_turns,
        depth=p.depth,
        topic=topics.topic(prompt_words),
        shape=_shape(request),
        text=p.user[:STORED_PROMPT_CHARS] if store_prompts else None,
    )
