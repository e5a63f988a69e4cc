"""Word pools for the abuse simulator's prompts (`lab/abuse_traffic.py`): people's questions,
coding agents' tasks, batch jobs' items and harvesting campaigns' frames.

The pools are data (`lab/data/abuse_words.json`); this module only types and loads them.
"""

from __future__ import annotations

import functools
from importlib import resources

import msgspec


class Words(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    subjects: dict[str, list[str]]
    chat_asks: list[str]
    verbs: list[str]
    things: list[str]
    failing: list[str]
    occasions: list[str]
    claims: list[str]
    forms: list[str]
    languages: list[str]
    sentences: list[str]
    agent_tasks: list[str]
    files: list[str]
    code_things: list[str]
    agent_systems: list[str]
    agent_uas: list[str]
    agent_apps: list[str]
    agent_max: list[int]
    chat_uas: list[str]
    chat_apps: list[str | None]
    batch_frames: list[str]
    batch_items: list[str]
    batch_max: list[int]
    sweep_frames: list[str]
    cot_suffixes: list[str]
    paraphrase_openers: list[str]
    paraphrase_verbs: list[str]
    paraphrase_tails: list[str]
    paraphrase_extras: list[str]
    campaign_systems: list[str]
    campaign_uas: list[str]


@functools.cache
def words() -> Words:
    raw = resources.files("tokenport.lab").joinpath("data/abuse_words.json").read_bytes()
    return msgspec.json.decode(raw, type=Words)
