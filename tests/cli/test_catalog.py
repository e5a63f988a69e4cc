"""The `models` and `catalog-rebuild` commands, on a local Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tokenport.catalog.store import default_catalog_path
from tokenport.cli.catalog import register

_SHARED_CANDIDATES = (Path(__file__).parents[2].parent / "shared", Path("/work/shared"))
_WIDE = {"COLUMNS": "200"}


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_models_json_is_pure_json(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "--provider", "deepseek", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    ids = [row["id"] for row in rows]
    assert "deepseek/deepseek-chat" in ids
    assert {row["provider"] for row in rows} == {"deepseek"}
    chat = next(row for row in rows if row["id"] == "deepseek/deepseek-chat")
    assert chat["pricing"] == {"input": 0.14, "output": 0.28, "cache_read": 0.0028}


def test_models_json_filters_and_sort(app: typer.Typer, runner: CliRunner) -> None:
    args = ["models", "--json", "--country", "CN", "--max-output-price", "1", "--search", "glm"]
    rows = json.loads(runner.invoke(app, args).stdout)
    assert rows
    assert all(r["country"] == "CN" and r["pricing"]["output"] <= 1 for r in rows)
    assert [(r["provider"], r["id"]) for r in rows] == sorted(
        (r["provider"], r["id"]) for r in rows
    )


def test_models_json_empty(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "--json", "--search", "no-model-is-called-this"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_models_table(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["models", "--author", "deepseek", "--provider", "deepseek"], env=_WIDE
    )
    assert result.exit_code == 0, result.output
    for text in ("deepseek/deepseek-chat", "DeepSeek Chat", "CN", "0.14", "0.28", "0.0028", "1M"):
        assert text in result.stdout
    assert "models.dev" in result.stdout  # attribution in the caption


def test_models_nothing_matches(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["models", "--provider", "nope"])
    assert result.exit_code == 1
    assert "No models match" in result.stderr
    assert "Known providers:" in result.stderr and "deepseek" in result.stderr


def test_rebuild_from_snapshot(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    snapshot = next(
        (
            p / "data" / "catalog" / "models_dev.json"
            for p in _SHARED_CANDIDATES
            if (p / "data" / "catalog" / "models_dev.json").is_file()
        ),
        None,
    )
    if snapshot is None:
        pytest.skip("models.dev snapshot not found in shared/data/catalog")
    out = tmp_path / "catalog.json"
    result = runner.invoke(app, ["catalog-rebuild", "--from", str(snapshot), "--out", str(out)])
    assert result.exit_code == 0, result.output
    models = json.loads(out.read_text())["models"]
    providers = {m["provider"] for m in models}
    assert f"Wrote {len(models)} models from {len(providers)} providers" in result.stdout
    assert out.read_text() == default_catalog_path().read_text()


def test_rebuild_from_checkout_without_api_json(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "catalog.json"
    result = runner.invoke(app, ["catalog-rebuild", "--from", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 2
    assert "api.json" in result.stderr
    assert not out.exists()


def test_rebuild_from_checkout_with_api_json(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    model = {
        "name": "DeepSeek Chat",
        "cost": {"input": 0.14, "output": 0.28},
        "limit": {"context": 1000, "output": 100},
        "modalities": {"input": ["text"], "output": ["text"]},
    }
    api = {"deepseek": {"name": "DeepSeek", "models": {"deepseek-chat": model}}}
    (tmp_path / "api.json").write_text(json.dumps(api))
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["catalog-rebuild", "--from", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 models from 1 providers" in result.stdout
    assert "No models in the snapshot for:" in result.stdout  # the other default providers
    listed = runner.invoke(app, ["models", "--json", "--catalog", str(out)])
    # the local model is served beside whatever the catalog holds
    ids = [r["id"] for r in json.loads(listed.stdout)]
    assert ids == ["deepseek/deepseek-chat", "local/smollm2-135m-instruct"]


def test_models_with_unreadable_catalog(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["models", "--catalog", str(bad)])
    assert result.exit_code == 2
    assert "cannot read the catalog" in result.stderr
