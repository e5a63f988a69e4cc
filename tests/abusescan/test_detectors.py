"""Each abuse detector on generated traffic with a known answer, and the parts under them:
client addresses behind proxies, sketches, the CoT rules, day summaries and their cache."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokenport.abusescan import days, detectors, features
from tokenport.abusescan.features import KeyInfo
from tokenport.abusescan.scan import judge, scan
from tokenport.abusescan.window import Window
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.signals import RequestSignals
from tokenport.ledger.store import open_store
from tokenport.security.abuse import cot, sketch, text, topics
from tokenport.security.abuse import signals as sig
from tokenport.security.clientip import client_ip, ip_prefix
from tokenport.wire.openai_chat import parse_chat_request

T0 = 1_770_000_000.0
SUBJECTS = ["photosynthesis", "entropy", "integrals", "contract law", "bond pricing",
            "recursion", "the cold war", "black holes", "enzymes", "monetary policy",
            "eigenvalues", "free will"]  # fmt: skip


# -- client addresses ------------------------------------------------------------------


def _scope(peer: str) -> dict[str, Any]:
    return {"client": (peer, 5555)}


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "want"),
    [
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),  # nobody trusted: the socket
        ("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"], "203.0.113.9"),  # peer not trusted
        ("10.0.0.5", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),  # left is client-written
        ("10.0.0.5", "1.2.3.4, 10.0.0.7", ["10.0.0.0/8"], "1.2.3.4"),  # two proxies
        ("10.0.0.5", "garbage, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        ("10.0.0.5", "1.2.3.4, garbage", ["10.0.0.0/8"], "10.0.0.5"),  # broken chain
        ("10.0.0.5", "[2001:db8::1]:443", ["10.0.0.5"], "2001:db8::1"),
        ("::ffff:10.0.0.5", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),  # v4-mapped peer
        ("10.0.0.5", "", ["10.0.0.0/8"], "10.0.0.5"),
    ],
)
def test_client_ip(peer: str, xff: str, trusted: list[str], want: str) -> None:
    headers = {"x-forwarded-for": xff} if xff else {}
    assert client_ip(_scope(peer), headers, trusted) == want


def test_prefixes() -> None:
    assert ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert ip_prefix("not an address") == ""


# -- prompt signals --------------------------------------------------------------------


def test_sketch_finds_near_duplicates_not_strangers() -> None:
    a = sketch.bands("Explain photosynthesis at a graduate level and solve a worked example.")
    b = sketch.bands("Explain photosynthesis at a graduate level and solve a worked example!")
    c = sketch.bands("What should I cook for dinner tonight with leftover rice and eggs")
    assert a == b
    assert not set(a) & set(c)


def test_template_normalises_slots() -> None:
    one = text.template("Ticket 4411 from Alice Moore: refund $30 by 2026-03-01 (alice@x.io)")
    two = text.template("Ticket 98 from Bob Stone: refund $7 by 2025-12-11 (bob@y.org)")
    assert one == two


@pytest.mark.parametrize(
    "prompt",
    [
        "Think step by step.",
        "Show all your work.",
        "Put your complete chain of thought inside <thinking> tags.",
        "Explain your reasoning before giving the final answer.",
        "Reason through it carefully, explaining every intermediate step.",
    ],
)
def test_cot_rules_catch_coercion(prompt: str) -> None:
    assert cot.asks_for_reasoning(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "Fix this step in the CI pipeline",
        "I think the answer is wrong",
        "What are the steps to install docker?",
        "Summarise this thread",
    ],
)
def test_cot_rules_leave_everyday_prompts(prompt: str) -> None:
    assert not cot.asks_for_reasoning(prompt)


def test_topics() -> None:
    assert topics.topic(sketch.words("solve this integral and prove the theorem")) == 2
    assert topics.topic(sketch.words("hello there")) == 0


# -- detectors over generated traffic ----------------------------------------------------


def _row(key: str, ts: float, body: dict[str, Any], ip: str, ua: str = "ua") -> tuple[Any, ...]:
    s = sig.compute(parse_chat_request(json.dumps(body).encode()), {"user-agent": ua}, ip)
    return (key, ts, "ok", 100, 500, body["model"], s.ip, s.prefix, s.ua, s.system, s.prompt_a,
            s.prompt_b, s.template_a, s.template_b, s.template, s.chars, s.context_chars,
            s.max_tokens, s.cot, s.tools, s.tool_turns, s.depth, s.topic, s.shape)  # fmt: skip


def _harvester(key: str, rng: random.Random, n: int = 40) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        body = {
            "model": "m",
            "max_tokens": 8192,
            "messages": [{"role": "user", "content": f"Explain {rng.choice(SUBJECTS)} in depth "
                          f"(case {i}). Think step by step and show all of your reasoning."}],
        }  # fmt: skip
        yield _row(key, T0 + i * 60, body, f"45.{rng.randrange(256)}.{rng.randrange(256)}.9")


def _person(key: str, rng: random.Random, n: int = 40) -> Iterator[tuple[Any, ...]]:
    history: list[dict[str, Any]] = []
    t = T0
    for i in range(n):
        if i % 4 == 0:
            history = []
        history.append(
            {
                "role": "user",
                "content": rng.choice(
                    [
                        "can you shorten this email to my landlord",
                        "what's a good name for a cat",
                        "why is my sourdough flat",
                        "ok, and in french?",
                        "help me plan a birthday",
                    ]
                ),
            }
        )
        yield _row(key, t, {"model": "m", "messages": list(history)}, "81.2.3.4")
        history.append({"role": "assistant", "content": "Sure."})
        t += rng.choice([20, 40, 3600, 86_000 / 3])


def _agent(key: str, rng: random.Random, n: int = 40) -> Iterator[tuple[Any, ...]]:
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "fix the failing test please"},
    ]
    for i in range(n):
        body = {
            "model": "m",
            "messages": list(msgs),
            "max_tokens": 32000,
            "tools": [{"type": "function", "function": {"name": "bash"}}],
        }
        yield _row(key, T0 + i * 7, body, "81.2.3.5")
        msgs += [{"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"c{i}", "type": "function", "function": {"name": "bash",
                                                                      "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": f"c{i}", "content": "ok"}]  # fmt: skip


def _window(rows: list[tuple[Any, ...]]) -> Window:
    w = Window(topics.count())
    w.fold(days.summarise(int(T0 // 86400), rows))
    return w


def _strengths(rows: list[tuple[Any, ...]], young: bool = False) -> tuple[Window, dict[str, Any]]:
    w = _window(rows)
    info = {k: KeyInfo(T0 - (3600 if young else 200 * 86400), "test", None) for k in w.keys}
    f = features.compute(w, info)
    return w, {"f": f, **detectors.strengths(f)}


@pytest.fixture
def three() -> dict[str, Any]:
    rng = random.Random(7)
    rows = [*_harvester("harvest", rng), *_person("person", rng), *_agent("agent", rng)]
    w, s = _strengths(rows)
    return {"i": {k: w.index[k] for k in w.keys}, **s}


@pytest.mark.parametrize(
    "name",
    ["chain_of_thought", "single_turn", "topic_sweep", "address_rotation"],
)
def test_detector_fires_on_the_harvester_only(three: dict[str, Any], name: str) -> None:
    i = three["i"]
    assert three[name][i["harvest"]] >= 0.5
    assert three[name][i["person"]] < 0.5
    assert three[name][i["agent"]] < 0.5


def test_max_tokens_pinned_fires_on_agents_too(three: dict[str, Any]) -> None:
    # Agents pin max_tokens as well: which is why no detector decides alone (their tool
    # turns take their own score to nothing, test_own_score_...).
    i = three["i"]
    assert three["max_tokens_pinned"][i["harvest"]] >= 0.5
    assert three["max_tokens_pinned"][i["agent"]] >= 0.5
    assert three["max_tokens_pinned"][i["person"]] < 0.5


def test_regular_timing_and_length_spread(three: dict[str, Any]) -> None:
    i = three["i"]
    # a script every 60 s: regular; a person: bursts and pauses
    assert three["regular_timing"][i["harvest"]] >= 0.5
    assert three["regular_timing"][i["person"]] == 0.0


def test_young_key_volume() -> None:
    rng = random.Random(3)
    rows = list(_harvester("k", rng, 120))
    _, old = _strengths(rows)
    _, new = _strengths(rows, young=True)
    assert new["young_key_volume"][0] > 0.5 and old["young_key_volume"][0] == 0.0


def test_own_score_stays_below_a_flag_and_agents_near_zero(three: dict[str, Any]) -> None:
    i = three["i"]
    own = detectors.harvest_score({k: v for k, v in three.items() if k not in ("f", "i")},
                                  three["f"])  # fmt: skip
    assert 0.3 < own[i["harvest"]] <= detectors.OWN_CAP
    assert own[i["agent"]] < 0.05 and own[i["person"]] < 0.2


def test_a_network_is_found_and_flagged_lone_harvesters_are_not() -> None:
    rng = random.Random(11)
    rows: list[tuple[Any, ...]] = []
    for k in range(12):  # one operator: twelve keys, one script
        rows += list(_harvester(f"net{k:02d}", rng, 30))
    rows += list(_harvester("lone", random.Random(99), 30))
    for k in range(30):
        rows += list(_person(f"p{k:02d}", rng, 10))
    w = _window(rows)
    info = {k: KeyInfo(T0 - 3600, "test", None) for k in w.keys}
    report = judge(w, info)
    flagged = {a.key_id for a in report.accounts if a.flagged}
    assert flagged >= {f"net{k:02d}" for k in range(12)}
    assert not any(k.startswith("p") for k in flagged)
    (cluster,) = [c for c in report.clusters if c.flagged]
    assert "net00" in cluster.key_ids and "lone" in cluster.key_ids  # same script, same operator
    assert any("near-duplicate" in r for r in cluster.reasons)


def test_shared_office_prefix_alone_is_not_a_network() -> None:
    rng = random.Random(5)
    rows: list[tuple[Any, ...]] = []
    for k in range(20):
        for row in _person(f"o{k:02d}", rng, 12):
            rows.append((*row[:6], "81.2.3.4", "81.2.3.0/24", *row[8:]))
    w = _window(rows)
    report = judge(w, {k: KeyInfo(T0 - 600, "test", None) for k in w.keys})  # keys made together
    assert not any(a.flagged for a in report.accounts)


# -- summaries, cache, and the whole scan over a real ledger -----------------------------


def test_day_summary_round_trips() -> None:
    rng = random.Random(1)
    s = days.summarise(1, list(_harvester("a", rng, 10)) + list(_person("b", rng, 5)))
    back = days.DaySummary.decode(s.encode())
    assert back.keys == s.keys and np.array_equal(back.stats, s.stats)
    assert all(np.array_equal(back.pairs[k][1], s.pairs[k][1]) for k in days.KINDS)


def test_scan_caches_finished_days_and_notices_late_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    store = open_store(url)
    store.migrate()
    rng = random.Random(2)
    records = []
    for n, row in enumerate([*_harvester("a", rng, 20), *_person("b", rng, 20)]):
        body_sig = dict(zip(days._COLUMNS.replace(" ", "").split(","), row, strict=True))
        signals = RequestSignals(**{k: body_sig[k] for k in RequestSignals.__struct_fields__
                                        if k in body_sig})  # fmt: skip
        records.append(LedgerRecord(id=f"r{n}", ts=row[1], model_requested="m", status="ok",
                                    key_id=row[0], signals=signals))  # fmt: skip
    store.insert_batch(records)
    first = scan(url)
    assert {a.key_id for a in first.accounts} == {"a", "b"} and first.days_read >= 1
    again = scan(url)
    assert again.days_read == 0 and again.accounts == first.accounts
    late = LedgerRecord(id="late", ts=T0 + 5, model_requested="m", status="ok", key_id="c",
                        signals=RequestSignals(chars=3))  # fmt: skip
    store.insert_batch([late])
    store.close()
    third = scan(url)
    assert third.days_read == 1 and "c" in {a.key_id for a in third.accounts}
