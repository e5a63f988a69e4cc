"""`tokenport router train|eval` on small slices of the real routing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from _auto_synth import write
from tokenport.cli.router import register
from tokenport.routing.auto import AutoRouter

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "routing"
if not DATA.exists():
    DATA = Path("/work/shared/data/routing")


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """tokenport (test shell)."""

    register(app)
    return app


def _slice(name: str, n: int, tmp_path: Path) -> Path:
    src = DATA / f"{name}.jsonl"
    if not src.exists():
        pytest.skip(f"{src} is not here")
    with src.open(encoding="utf-8", newline="\n") as fh:
        lines = [next(fh) for _ in range(n + 1)]
    out = tmp_path / f"{name}.jsonl"
    out.write_text("".join(lines), encoding="utf-8")
    return out


def test_eval_json_prints_exactly_one_object(tmp_path: Path) -> None:
    path = _slice("gsm8k", 150, tmp_path)
    res = CliRunner().invoke(
        _app(), ["router", "eval", "--train", str(path), "--json", "--folds", "3"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.count("\n") == 1
    report = json.loads(res.stdout)
    assert "cross-validation" in report["mode"]
    routers = report["routellm"]["routers"]
    assert set(routers) == {"auto", "prompt_only", "tfidf_ridge", "random"}
    assert routers["auto"]["kind"] == "cascade"
    assert 0.0 < routers["auto"]["total_cost_share_at_cpt50"] <= 1.5
    assert 0.0 <= routers["auto"]["cpt"]["50%"] <= 100.0
    assert report["latency"]["p99_ms"] > 0


def test_eval_holdout_with_costs_and_plots(tmp_path: Path) -> None:
    path = _slice("routerbench_mbpp", 120, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("".join(lines[:81]), encoding="utf-8")
    test.write_text(lines[0] + "".join(lines[81:]), encoding="utf-8")
    args = ["router", "eval", "--train", str(train), "--test", str(test)]
    res = CliRunner().invoke(_app(), [*args, "--plot-dir", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    assert "best single" in res.stdout
    assert (tmp_path / "plots" / "routerbench_mbpp_cost.png").stat().st_size > 1000
    res = CliRunner().invoke(_app(), [*args, "--json"])
    report = json.loads(res.stdout)
    assert report["mode"].startswith("holdout")
    assert report["n_scored"] == 40
    assert "oracle" in report["routerbench"]["routers"]


def test_train_writes_a_loadable_artifact(tmp_path: Path) -> None:
    data = write(tmp_path / "synth.jsonl")
    out = tmp_path / "router.npz"
    res = CliRunner().invoke(_app(), ["router", "train", "--data", str(data), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert AutoRouter.load(out).models == ("cheap", "mid", "big")
    res = CliRunner().invoke(
        _app(), ["router", "train", "--data", str(tmp_path / "no"), "--out", str(out)]
    )
    assert res.exit_code == 2
