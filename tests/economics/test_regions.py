"""Region, GPU and assumption tables: shipped data are consistent, overrides apply and fail
with the field's name."""

from __future__ import annotations

import pytest

from tokenport.economics.errors import CostInputError
from tokenport.economics.gpus import load_gpus
from tokenport.economics.inputs import data_toml
from tokenport.economics.regions import load_regions
from tokenport.economics.settings import Economics, load_assumptions

REQUIRED = ("cn-national", "cn-west", "us-avg", "us-pjm", "us-ca", "eu-avg", "nordics")


def test_every_required_region_ships_with_a_source() -> None:
    regions = load_regions()
    for key in REQUIRED:
        region = regions[key]
        assert region.source and region.pue_source
        assert region.source_kind in ("independent", "estimate", "article")
        assert region.usd_per_kwh_low <= region.usd_per_kwh <= region.usd_per_kwh_high


def test_usd_column_matches_local_price_times_fx() -> None:
    raw = data_toml("regions.toml")["regions"]
    for key, row in raw.items():
        assert row["usd_per_kwh"] == pytest.approx(
            row["price_local"] * row["usd_per_local"], rel=5e-3
        ), key
        assert row["fx_date"]


def test_eurostat_row_by_hand() -> None:
    eu = load_regions()["eu-avg"]
    assert eu.usd_per_kwh == pytest.approx(0.19 * 1.09)  # EUR 0.19/kWh x 1.09 USD/EUR
    assert eu.source_kind == "independent"


def test_overrides_replace_fields_and_mark_the_row() -> None:
    regions = load_regions({"cn-west": {"usd_per_kwh": 0.03, "pue": 1.08}})
    assert regions["cn-west"].usd_per_kwh == 0.03
    assert regions["cn-west"].pue == 1.08
    assert regions["cn-west"].source_kind == "override"
    assert regions["cn-west"].usd_per_kwh_low == regions["cn-west"].usd_per_kwh_high == 0.03
    assert regions["us-avg"].usd_per_kwh == 0.084  # untouched rows keep shipped values


def test_local_price_override_is_converted() -> None:
    regions = load_regions({"cn-national": {"price_local": 0.40}})
    assert regions["cn-national"].usd_per_kwh == pytest.approx(0.40 * 0.1389)


def test_a_new_region_can_be_added() -> None:
    regions = load_regions({"my-dc": {"usd_per_kwh": 0.05, "pue": 1.3, "source": "our bill"}})
    assert regions["my-dc"].usd_per_kwh == 0.05 and regions["my-dc"].name == "my-dc"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cn-west": {"pue": 0.8}}, "regions.cn-west.pue"),
        ({"cn-west": {"pue": "high"}}, "regions.cn-west.pue"),
        ({"cn-west": {"usd_per_kwh": 0}}, "regions.cn-west.usd_per_kwh"),
        ({"cn-west": {"pue_typo": 1.2}}, "regions.cn-west.pue_typo"),
        ({"cn-west": {"carbon_free_share": 2}}, "regions.cn-west.carbon_free_share"),
        ({"new": {"usd_per_kwh": 0.05}}, "regions.new.pue"),
        ({"new": {"pue": 1.2}}, "regions.new.usd_per_kwh"),
        ({"cn-west": 3}, "regions.cn-west"),
    ],
)
def test_bad_region_overrides_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(CostInputError) as err:
        load_regions(overrides)
    assert err.value.field == field


def test_gpu_and_assumption_overrides() -> None:
    assert load_gpus({"H100": {"capex_usd": 30_000}})["H100"].capex_usd == 30_000
    assert load_gpus(
        {"MI300X": {"board_power_w": 750, "capex_usd": 20_000, "rental_usd_per_hour": 2.5}}
    )
    with pytest.raises(CostInputError) as err:
        load_gpus({"H100": {"rental_usd_per_hour": -1}})
    assert err.value.field == "gpus.H100.rental_usd_per_hour"
    a = load_assumptions({"utilization": 0.9})
    assert a.utilization == 0.9 and a.why["utilization"] == "config override"
    with pytest.raises(CostInputError) as err:
        load_assumptions({"utilisation": 0.9})
    assert err.value.field == "assumptions.utilisation"


def test_economics_load_routes_sections_and_rejects_unknown_ones() -> None:
    econ = Economics.load(
        {"regions": {"us-avg": {"pue": 1.1}}, "assumptions": {"host_overhead": 1.2}}
    )
    assert econ.region("us-avg").pue == 1.1
    assert econ.assumptions.host_overhead == 1.2
    with pytest.raises(CostInputError) as err:
        Economics.load({"region": {}})
    assert err.value.field == "economics.region"
    assert "regions" in (err.value.allowed or ())
