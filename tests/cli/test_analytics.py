"""`tokenport rankings` (tables and --json), `tokenport export` (CSV and Parquet)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import msgspec
import pytest
import typer
from typer.testing import CliRunner

from _an_helpers import END, HOUR, fill, record
from _helpers import require_module
from tokenport.analytics.service import compute, parse_query
from tokenport.analytics.source import RollupSource
from tokenport.catalog.store import Catalog
from tokenport.cli.analytics import register

pytestmark = pytest.mark.timeout(60)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """tokenport (test harness)"""

    register(app)
    return app


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOKENPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TOKENPORT_DATABASE_URL", raising=False)
    monkeypatch.delenv("TOKENPORT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    fill(url, [
        record(f"a{i}", END - HOUR - i * 60, "moonshotai/kimi-k2.5", prompt=200, app="Kilo Code")
        for i in range(5)
    ] + [record("b0", END - 2 * HOUR, "openai/gpt-5", prompt=100, key="k9", app=None)])  # fmt: skip
    return url


def test_rankings_json_is_the_api_object(ledger: str, catalog: Catalog) -> None:
    result = CliRunner().invoke(
        _app(), ["rankings", "--json", "--database-url", ledger, "--end", str(END)]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    source = RollupSource(ledger)
    try:
        api = compute(parse_query({"end": str(END)}), source, catalog)
    finally:
        source.close()
    assert printed == json.loads(msgspec.json.encode(api))
    assert printed["sections"]["model"]["rows"][0]["name"] == "Kimi K2.5"


def test_rankings_tables(ledger: str) -> None:
    result = CliRunner().invoke(
        _app(),
        ["rankings", "--database-url", ledger, "--by", "model,app,key"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Top models by tokens" in out and "Kimi K2.5" in out
    assert "Top apps" in out and "Kilo Code" in out
    assert "Spend by key" in out
    assert "no recent traffic" in out  # end=auto followed the data into the past


def test_rankings_bad_window_exits_2_with_the_allowed_values(ledger: str) -> None:
    result = CliRunner().invoke(_app(), ["rankings", "--database-url", ledger, "--window", "year"])
    assert result.exit_code == 2
    assert "day, week, month" in result.output


def test_rankings_on_an_empty_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(_app(), ["rankings", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "no traffic" in result.stdout


def test_export_csv(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = CliRunner().invoke(_app(), ["export", "--out", str(out), "--database-url", ledger])
    assert result.exit_code == 0, result.output
    with (out / "requests.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["model_served"] for r in rows} == {
        "moonshotai/kimi-k2.5",
        "openai/gpt-5",
    }
    with (out / "rollup_hourly.csv").open() as f:
        rollup = list(csv.DictReader(f))
    assert sum(int(r["requests"]) for r in rollup) == 6


def test_export_time_range(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "part"
    since = str(END - HOUR - 150)  # the three newest kimi requests
    result = CliRunner().invoke(
        _app(), ["export", "--out", str(out), "--database-url", ledger, "--since", since]
    )
    assert result.exit_code == 0, result.output
    assert "requests: 3 rows" in result.stdout


def test_export_parquet(ledger: str, tmp_path: Path) -> None:
    pq = require_module("pyarrow.parquet", "pip install pyarrow")
    out = tmp_path / "pq"
    result = CliRunner().invoke(
        _app(), ["export", "--out", str(out), "--database-url", ledger, "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "requests.parquet")
    assert table.num_rows == 6
    assert str(table.schema.field("stream").type) == "bool"
    assert str(table.schema.field("prompt_tokens").type) == "int64"


def test_export_rejects_unknown_format(ledger: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["export", "--out", str(tmp_path), "--database-url", ledger, "--format", "xls"]
    )
    assert result.exit_code == 2 and "csv, parquet" in result.output
