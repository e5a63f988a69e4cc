"""What a request cost, from its usage and the serving route's catalog price."""

from __future__ import annotations

from tokenport.values import Pricing, Usage


def cost_usd(usage: Usage, price: Pricing) -> float:
    """USD for `usage` at `price` (USD per million tokens).

    Cache reads and writes have their own rates when the catalog knows them and fall back to
    the input rate when it does not. Reasoning tokens are part of completion tokens (as in
    OpenAI's usage) and so are priced as output.
    """
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    read_rate = price.input if price.cache_read is None else price.cache_read
    write_rate = price.input if price.cache_write is None else price.cache_write
    micro = (
        fresh * price.input
        + cached * read_rate
        + written * write_rate
        + usage.completion_tokens * price.output
    )
    return round(micro / 1_000_000, 10)


def max_cost_usd(prompt_tokens: int, max_output_tokens: int, price: Pricing) -> float:
    """The most a request can cost: every prompt token uncached plus the output cap."""
    return (prompt_tokens * price.input + max_output_tokens * price.output) / 1_000_000
