"""`tokenport costs` and `tokenport economics ...` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tokenport.cli.economics import register

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_costs_json_is_one_object_with_the_decomposition(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["costs", "--model", "Llama-3.1-70B", "--gpu", "H100", "--region", "cn-west", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["region"] == "cn-west" and body["gpu_count"] == 4
    out = body["output"]
    assert out["total"] == pytest.approx(out["energy"] + out["hardware"] + out["other"])
    assert body["input"]["total"] == pytest.approx(out["total"] / body["prefill_speedup"])
    assert any(a.startswith("prefill_speedup") for a in body["assumptions"])


def test_costs_table_names_the_parts(app: typer.Typer) -> None:
    result = runner.invoke(app, ["costs", "--model", "Llama-3.1-70B", "--region", "us-avg"])
    assert result.exit_code == 0, result.output
    for word in ("energy", "hardware", "other", "total", "prefill_speedup", "energy share"):
        assert word in result.stdout


def test_all_regions_side_by_side(app: typer.Typer) -> None:
    result = runner.invoke(app, ["costs", "--model", "Llama-3.1-70B", "--compare", "--json"])
    assert result.exit_code == 0, result.output
    regions = [r["region"] for r in json.loads(result.stdout)["regions"]]
    assert regions[0] == "cn-west" and "eu-avg" in regions
    table = runner.invoke(app, ["costs", "--model", "Llama-3.1-70B", "--all-regions"])
    assert "nordics" in table.stdout and "energy%" in table.stdout


def test_list_prices_on_the_command_line(app: typer.Typer) -> None:
    args = ["costs", "--model", "Llama-3.1-70B", "--list-price", "opus=5/25", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [price] = json.loads(result.stdout)["list_prices"]
    assert price["label"] == "opus" and price["verdict"] == "margin"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--region", "mars"], "region"),
        (["--gpus", "3"], "gpu_count"),
        (["--utilization", "0"], "utilization"),
        (["--batch", "5000"], "batch_size"),
        (["--list-price", "opus:5:25"], "list_price"),
        (["--hardware", "leased"], "hardware"),
    ],
)
def test_bad_inputs_exit_2_naming_the_field(app: typer.Typer, args: list[str], field: str) -> None:
    result = runner.invoke(app, ["costs", "--model", "Llama-3.1-70B", *args])
    assert result.exit_code == 2
    assert f"error: {field}:" in result.output


def test_overrides_file(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "econ.toml"
    path.write_text("[economics.regions.cn-west]\nusd_per_kwh = 0.02\npue = 1.05\n")
    args = ["costs", "--model", "Llama-3.1-70B", "--region", "cn-west", "--json", "--overrides"]
    body = json.loads(runner.invoke(app, [*args, str(path)]).stdout)
    assert (body["usd_per_kwh"], body["pue"]) == (0.02, 1.05)
    path.write_text('[regions.cn-west]\npue = "low"\n')
    result = runner.invoke(app, [*args, str(path)])
    assert result.exit_code == 2 and "regions.cn-west.pue" in result.output


def test_report_writes_html_and_prints_json(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["economics", "report", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    verdicts = {c["id"]: c["verdict"] for c in json.loads(result.stdout)["claims"]}
    assert verdicts["energy_per_token"] == "overstated"
    assert out.read_text().count("class='chart-config'") == 8  # Chart.js charts


def test_report_takes_claim_overrides(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "econ.toml"
    path.write_text("[claims.price_us]\nclaimed_low = 0.55\nclaimed_high = 0.65\n")
    args = ["economics", "report", "--json", "--overrides", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    verdicts = {c["id"]: c["verdict"] for c in json.loads(result.stdout)["claims"]}
    assert verdicts["price_us"] == "consistent"


def test_report_to_an_unwritable_path_is_a_clear_error(app: typer.Typer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["economics", "report", "--out", str(blocker / "report.html")])
    assert result.exit_code == 2 and "error: out:" in result.output


def test_models_and_regions_listings(app: typer.Typer) -> None:
    models = runner.invoke(app, ["economics", "models", "--gpu", "H100"])
    assert models.exit_code == 0 and "Llama-3.1-70B-Instruct" in models.stdout
    assert "B200" not in models.stdout
    regions = runner.invoke(app, ["economics", "regions"])
    assert regions.exit_code == 0 and "cn-west" in regions.stdout


def test_costs_reproduce_prints_each_figure_beside_the_disclosure(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["costs", "--reproduce", "deepseek-2025-03"], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    for text in ("disclosed", "reproduced", "error", "87,072", "562,027", "what carries each",
                 "within 5% of the disclosure", "cache_hit_cost = 0.1"):  # fmt: skip
        assert text in result.stdout, text
    body = json.loads(
        runner.invoke(app, ["costs", "--reproduce", "deepseek-2025-03", "--json"]).stdout
    )
    assert body["within_tolerance"] and len(body["rows"]) == 10


def test_costs_needs_a_model_or_a_disclosure(app: typer.Typer) -> None:
    result = runner.invoke(app, ["costs"])
    assert result.exit_code == 2 and "error: model: missing" in result.output
    result = runner.invoke(app, ["costs", "--reproduce", "acme-2030"])
    assert result.exit_code == 2 and "error: reproduce: unknown disclosure" in result.output


def test_terminal_report_shows_claims_units_and_points_to_out(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["economics", "report"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Generating 100 tokens uses 0.8-1.2 kWh" in out  # the claim in its own words
    assert "kWh per 100 output tokens" in out and "GWh per training run" in out  # units
    assert "> 50" in out  # a one-sided claim as the articles put it
    assert (
        "what would flip each verdict" in out
        and "training_energy: assumptions.host_overhead" in out
    )
    assert "wrote economics-report.html" in out and "--out PATH" in out
    assert (tmp_path / "economics-report.html").exists()
