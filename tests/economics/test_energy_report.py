"""Energy by region from the ledger: the join, the arithmetic and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tokenport.cli.economics import register
from tokenport.economics.energy_report import ProviderEnergy, by_region
from tokenport.economics.settings import default_economics
from tokenport.ledger.record import LedgerRecord
from tokenport.ledger.store import open_store


def test_by_region_sums_and_attributes_carbon_free_share() -> None:
    regions = default_economics().regions
    usage = [
        ProviderEnergy("west-a", 10, 1000, 2000.0),
        ProviderEnergy("west-b", 5, 500, 1000.0),
        ProviderEnergy("cal", 3, 300, 600.0),
        ProviderEnergy("paid", 9, 900, 0.0),
    ]
    deployments = {"west-a": ("cn-west", None), "west-b": ("cn-west", None), "cal": ("us-ca", 0.30)}
    out = {r.region: r for r in by_region(usage, deployments, regions)}
    assert set(out) == {"cn-west", "us-ca"}  # the paid provider records no energy
    west = out["cn-west"]
    assert west.kwh == pytest.approx(3.0) and west.requests == 15
    assert west.energy_cost_usd == pytest.approx(3.0 * regions["cn-west"].usd_per_kwh)
    assert west.carbon_free_share is None and west.carbon_free_kwh is None  # no sourced share
    assert west.wh_per_1k_tokens == pytest.approx(3000 / 1500 * 1000)
    assert out["us-ca"].energy_cost_usd == pytest.approx(0.6 * 0.30)  # own price override
    nordic = by_region([ProviderEnergy("n", 1, 10, 4000.0)], {"n": ("nordics", None)}, regions)
    share = regions["nordics"].carbon_free_share
    assert share is not None and nordic[0].carbon_free_kwh == pytest.approx(4.0 * share)


def test_energy_cli_reads_the_ledger(tmp_path: Path) -> None:
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\n[local]\nenabled = false\n'
        '[providers.west]\nbase_url = "http://127.0.0.1:9/v1"\n'
        'deployment = { model = "Llama-3.1-70B-Instruct", region = "cn-west" }\n'
    )
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.migrate()
    now = time.time() - 60
    store.insert_batch(
        [
            LedgerRecord(
                id=f"e{i}",
                ts=now,
                model_requested="m",
                status="ok",
                provider="west",
                model_served="west/m",
                completion_tokens=100,
                energy_wh=500.0,
            )
            for i in range(4)
        ]
    )
    store.close()
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["economics", "energy", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["region"] == "cn-west" and rows[0]["kwh"] == pytest.approx(2.0)
    table = CliRunner().invoke(
        app, ["economics", "energy", "--config", str(cfg)], env={"COLUMNS": "200"}
    )
    assert "cn-west" in table.output and "carbon-free" in table.output
