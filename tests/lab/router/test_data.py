"""Loading routing JSONL: prompt shapes, odd characters, bad lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import _auto_synth
from tokenport.lab.router.data import align, load_dataset, merge, prompt_text
from tokenport.routing.auto import DatasetError


def test_prompt_shapes() -> None:
    assert prompt_text(["first", "second"]) == "first\n\nsecond"
    assert prompt_text("['a\\nb', 'c']") == "a\nb\n\nc"
    assert prompt_text("['not a list") == "['not a list"
    assert prompt_text("plain") == "plain"


def _write(path: Path, header: dict[str, object], rows: list[dict[str, object]]) -> Path:
    lines = [json.dumps({"header": header})] + [json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pair_file_with_nel_character(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "x\u0085y", "models": {"w": {"score": 1}, "s": {"score": 0}}},
        {"id": "b", "prompt": "z", "models": {"w": {"score": 3}, "s": {"score": 5}}},
    ]
    ds = load_dataset(
        _write(tmp_path / "p.jsonl", {"dataset": "p", "weak": "w", "strong": "s"}, rows)
    )
    assert len(ds) == 2
    assert ds.texts[0] == "x\u0085y"
    assert ds.is_pair
    assert not ds.has_costs
    # scores span 0..5, so quality is score / 5
    np.testing.assert_allclose(ds.quality(), [[0.2, 0.0], [0.6, 1.0]])


def test_bad_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"header": {"dataset": "d", "models": ["m"]}}\n{"id": 1}\n')
    with pytest.raises(DatasetError, match=":2"):
        load_dataset(path)
    rows = [{"id": "a", "prompt": "p", "models": {"zz": {"score": 1}}}]
    with pytest.raises(DatasetError, match="not in the header"):
        load_dataset(_write(tmp_path / "u.jsonl", {"dataset": "d", "models": ["m"]}, rows))


def test_merge_rescales_and_masks(tmp_path: Path) -> None:
    a = load_dataset(
        _write(
            tmp_path / "a.jsonl",
            {"dataset": "a", "models": ["m1"]},
            [
                {"id": "1", "prompt": "p", "models": {"m1": {"score": 10}}},
                {"id": "2", "prompt": "q", "models": {"m1": {"score": 1}}},
            ],
        )
    )
    b = load_dataset(
        _write(
            tmp_path / "b.jsonl",
            {"dataset": "b", "models": ["m2"]},
            [{"id": "1", "prompt": "r", "models": {"m2": {"score": 1, "cost_usd": 0.5}}}],
        )
    )
    both = merge([a, b])
    assert both.models == ("m1", "m2")
    assert both.scores[0, 0] == 1.0
    assert np.isnan(both.scores[2, 0])
    assert both.costs[2, 1] == 0.5


def test_align_reorders_columns_and_refuses_other_models(tmp_path: Path) -> None:
    rows = [{"id": "1", "prompt": "p", "models": {"a": {"score": 1}, "b": {"score": 0}}}]
    ds = load_dataset(_write(tmp_path / "x.jsonl", {"dataset": "x", "models": ["a", "b"]}, rows))
    flipped = align(ds, ("b", "a"))
    assert flipped.models == ("b", "a")
    np.testing.assert_array_equal(flipped.scores, [[0.0, 1.0]])
    with pytest.raises(DatasetError):
        align(ds, ("a", "c"))


def test_turns_of_one_conversation_share_a_group(tmp_path: Path) -> None:
    m = {"w": {"score": 1}, "s": {"score": 2}}
    rows = [
        {"id": "mt-81-1", "turn": 1, "prompt": ["q"], "models": m},
        {"id": "mt-81-2", "turn": 2, "prompt": ["q", "r"], "models": m},
        {"id": "gsm-7", "prompt": "p", "models": m},
    ]
    header = {"dataset": "mt", "weak": "w", "strong": "s"}
    ds = load_dataset(_write(tmp_path / "mt.jsonl", header, rows))
    assert ds.groups == ("mt-81", "mt-81", "gsm-7")
    assert ds.subset([2, 0]).groups == ("gsm-7", "mt-81")


def test_pair_columns_names_weak_then_strong_and_refuses_other_files() -> None:
    synth = _auto_synth.dataset()
    pair = dataclasses.replace(synth, weak="cheap", strong="big")
    assert pair.pair_columns() == (0, 2)
    with pytest.raises(DatasetError, match="not a weak/strong pair"):
        synth.pair_columns()
