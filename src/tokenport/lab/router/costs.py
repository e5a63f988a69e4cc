"""What each call of a routing file costs, where the file does not record it.

RouterBench files carry `cost_usd` per call. RouteLLM's pair files carry none, so a call is
priced as list prices per million tokens (`PAIR_PRICES`, overridable with `router eval
--price`) times the prompt's and the recorded answer's length in tokens, at 4 characters a
token. Both the cascade's training (is skipping the cheap call worth it?) and `router eval`
(every call counted) price calls here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from tokenport.lab.router.data import RoutingDataset

FloatArray = NDArray[np.float64]
CHARS_PER_TOKEN = 4.0
# USD per million (input, output) tokens for the RouteLLM pair, from the bundled catalog:
# Mixtral 8x7B at Mistral's list price (mistral/open-mixtral-8x7b), GPT-4-1106-preview at
# GPT-4 Turbo's (openai/gpt-4-turbo).
PAIR_PRICES: dict[str, tuple[float, float]] = {
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.7, 0.7),
    "gpt-4-1106-preview": (10.0, 30.0),
}


def call_costs(
    data: RoutingDataset, prices: Mapping[str, tuple[float, float]] | None = None
) -> FloatArray | None:
    """(n, models) USD per call: recorded `cost_usd` where the file has it, else priced from
    token estimates; None when a model has neither."""
    prices = {**PAIR_PRICES, **(prices or {})}
    out = data.costs.copy()
    prompt_tokens = np.array([len(t) for t in data.texts]) / CHARS_PER_TOKEN
    for j, m in enumerate(data.models):
        missing = ~np.isfinite(out[:, j])
        if not missing.any():
            continue
        if m not in prices:
            return None
        p_in, p_out = prices[m]
        if data.responses is not None:
            chars = np.array([len(r[j] or "") for r in data.responses], dtype=np.float64)
        else:
            chars = np.zeros(len(data))
        # A file without answers (MMLU) keeps one letter: a token out.
        out_tokens = np.maximum(chars / CHARS_PER_TOKEN, 1.0)
        out[missing, j] = ((prompt_tokens * p_in + out_tokens * p_out) / 1e6)[missing]
    return out
