"""A prompt's coarse topic, from the lexicon in `topics.toml` (shipped with the package)."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources


@functools.cache
def _lexicon() -> dict[str, int]:
    text = resources.files("tokenport.security.abuse").joinpath("topics.toml").read_text("utf-8")
    table: dict[str, list[str]] = tomllib.loads(text)["topics"]
    out: dict[str, int] = {}
    for topic_id, topic_words in enumerate(table.values(), start=1):
        for w in topic_words:
            out.setdefault(w, topic_id)  # a word listed twice counts for its first topic
    return out


def count() -> int:
    return max(_lexicon().values())


def topic(words: list[str]) -> int:
    """The topic id whose words appear most among `words` (lower-case); 0 for none."""
    lexicon = _lexicon()
    hits: dict[int, int] = {}
    for w in words:
        t = lexicon.get(w) or (lexicon.get(w[:-1]) if w.endswith("s") else None)
        if t:
            hits[t] = hits.get(t, 0) + 1
    if not hits:
        return 0
    return max(hits.items(), key=lambda kv: (kv[1], -kv[0]))[0]
