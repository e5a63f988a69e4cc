"""bench/router_study.py on small synthetic files whose answers are known.

A pair file where the weak model fails exactly the algebra prompts: a router that reads the
prompt must separate them (AUC near 1), the random router's interval must hold 0.5, and the
AUC a synthetic router needs must grow with the APGR target. The run must also write its
JSON and markdown. The real study (all six files, three seeds) is a bench run, not a test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

import _auto_synth

ROOT = Path(__file__).resolve().parents[2]
TOPICS = ["rain", "cats", "the sea", "autumn", "trains", "coffee", "snow", "stars", "bread", "ink"]


@pytest.fixture(scope="module")
def study() -> ModuleType:
    spec = importlib.util.spec_from_file_location("router_study", ROOT / "bench/router_study.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["router_study"] = module
    spec.loader.exec_module(module)
    return module


def _pair_file(path: Path) -> Path:
    header = {"dataset": "pairsynth", "weak": "small", "strong": "large", "score": "0/1"}
    lines = [json.dumps({"header": header})]
    for i in range(60):
        topic = TOPICS[i % len(TOPICS)]
        algebra = i % 3 == 0
        prompt = f"solve for x: {i} x^2 + 3x = 7 ({topic})" if algebra else f"a poem about {topic}"
        row = {
            "id": f"p-{i}",
            "prompt": prompt,
            "models": {"small": {"score": 0.0 if algebra else 1.0}, "large": {"score": 1.0}},
        }
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pair_study_separates_a_learnable_split(study: ModuleType, tmp_path: Path) -> None:
    path = _pair_file(tmp_path / "pairsynth.jsonl")
    got = study.study(path, 1, False, tmp_path)
    data = study.load_dataset(path)
    oracle = study.pair_figures(data, data.quality())  # scored by the true gain
    [auto] = got["families"]["auto"]
    assert auto["auc"] > 0.95
    assert auto["apgr"] > 0.95 * oracle["apgr"]
    [rand] = got["families"]["random"]
    assert rand["auc"] < 0.8
    lo, hi = got["random_apgr_95"]
    assert lo < 0.5 < hi
    assert 0.5 < got["auc_needed"] <= 1.0


def test_auc_needed_grows_with_the_target(study: ModuleType, tmp_path: Path) -> None:
    data = study.load_dataset(_pair_file(tmp_path / "pairsynth.jsonl"))
    assert study.auc_needed(data, 0.6) < study.auc_needed(data, 0.8) < study.auc_needed(data, 0.95)


def test_cost_study_finds_the_cheap_route(study: ModuleType, tmp_path: Path) -> None:
    """On the synthetic cost file the cheap model is right on every poem, so routing poems to
    it keeps the best model's quality on the algebra half at a little over half its cost."""
    got = study.study(_auto_synth.write(tmp_path / "synth.jsonl"), 1, False, tmp_path)
    [auto] = got["families"]["auto"]
    [rand] = got["families"]["random"]
    assert auto["best_quality"] == 1.0
    assert auto["match_share"] is not None
    assert auto["match_share"] < 0.8
    assert (rand["quality_at_half_cost"] or 0.0) < auto["quality_at_half_cost"]


def test_main_writes_json_and_markdown(study: ModuleType, tmp_path: Path) -> None:
    _pair_file(tmp_path / "pairsynth.jsonl")
    out = tmp_path / "out"
    code = study.main(
        ["--datasets", "pairsynth", "--seeds", "1", "--data-dir", str(tmp_path), "--out", str(out)]
    )
    assert code == 0
    [entry] = json.loads((out / "results.json").read_text())
    assert set(entry["families"]) == {"auto", "tfidf_ridge", "random", "tfidf_logistic"}
    assert "| pairsynth | 60 | auto |" in (out / "results.md").read_text()


def test_main_names_a_missing_file(
    study: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert study.main(["--datasets", "nope", "--data-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
