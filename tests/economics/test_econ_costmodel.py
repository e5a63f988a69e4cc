"""Cost arithmetic against hand-computed cases taken from rows of the shipped CSV."""

from __future__ import annotations

import pytest

from tokenport.economics.costmodel import (
    Deployment,
    compare_list_prices,
    compare_regions,
    energy_per_request,
    marginal_cost_per_mtok,
)
from tokenport.economics.errors import CostInputError
from tokenport.errors import BadRequest

# data/ml_energy_llm.csv, meta-llama/Llama-3.1-70B-Instruct, lm-arena-chat, 4xH100:
#   max_num_seqs 128: avg_batch_size 127.61, energy_per_token_j 0.5634, output_tokens_per_s 3876.3
#   max_num_seqs 512: avg_batch_size 510.51, energy_per_token_j 0.421,  output_tokens_per_s 5921.3
RENTED = Deployment(
    model="Llama-3.1-70B",
    gpu="H100",
    region="us-avg",
    usd_per_kwh=0.10,
    pue=1.2,
    host_overhead=1.5,
    rental_usd_per_gpu_hour=2.0,
    utilization=0.5,
)


def test_rented_deployment_by_hand() -> None:
    cost = marginal_cost_per_mtok(RENTED, batch_size=127.61)
    # energy: 0.5634 J x host 1.5 x PUE 1.2 = 1.01412 J/token; x 1e6 tokens / 3.6e6 J/kWh
    #         = 0.2817 kWh x $0.10 = $0.02817 per Mtok
    assert cost.facility_energy_j_per_token == pytest.approx(0.5634 * 1.5 * 1.2)
    assert cost.output.energy == pytest.approx(0.5634 * 1.5 * 1.2 * 1e6 / 3.6e6 * 0.10)
    assert cost.output.energy == pytest.approx(0.02817)
    # hardware: 4 GPUs x $2/h / (3876.3 tok/s x 3600 s x 0.5 utilisation) x 1e6 = $1.14657
    assert cost.output.hardware == pytest.approx(4 * 2.0 / (3876.3 * 3600 * 0.5) * 1e6)
    assert cost.output.hardware == pytest.approx(1.14657, rel=1e-5)
    # rental includes facility and staff, so "other" defaults to zero
    assert cost.output.other == 0
    assert cost.output.total == pytest.approx(cost.output.energy + cost.output.hardware)
    assert cost.energy_share == pytest.approx(0.02817 / (0.02817 + 1.14657), rel=1e-4)
    assert cost.hardware_basis == "rental"


def test_owner_operated_deployment_by_hand() -> None:
    deployment = Deployment(
        model="Llama-3.1-70B",
        gpu="H100",
        region="cn-west",
        usd_per_kwh=0.05,
        pue=1.1,
        host_overhead=1.3,
        capex_usd_per_gpu=40_000,
        amortization_years=4,
        other_usd_per_gpu_hour=0.25,
        utilization=0.6,
    )
    cost = marginal_cost_per_mtok(deployment, batch_size=510.51)
    gpu_hour = 40_000 / (4 * 8760)  # $1.1416 per GPU-hour
    deployment_hours_per_mtok = 1e6 / (5921.3 * 3600 * 0.6)
    assert cost.gpu_hour_usd == pytest.approx(gpu_hour)
    assert cost.output.energy == pytest.approx(0.421 * 1.3 * 1.1 / 3.6 * 0.05)
    assert cost.output.hardware == pytest.approx(4 * gpu_hour * deployment_hours_per_mtok)
    assert cost.output.other == pytest.approx(4 * 0.25 * deployment_hours_per_mtok)
    # every input was given; only the prefill assumption, which has no per-call input, is stated
    assert [note.split(" =")[0] for note in cost.assumptions] == ["prefill_speedup"]


def test_input_tokens_are_output_over_prefill_speedup() -> None:
    cost = marginal_cost_per_mtok(RENTED, batch_size=127.61)
    assert cost.prefill_speedup == 5.0
    assert cost.input.total == pytest.approx(cost.output.total / 5)
    assert cost.input.energy == pytest.approx(cost.output.energy / 5)


def test_energy_per_request_by_hand() -> None:
    wh, usd = energy_per_request(
        RENTED, prompt_tokens=1000, completion_tokens=500, batch_size=127.61
    )
    # (500 output + 1000 input / 5) token-equivalents x 1.01412 J / 3600 J/Wh
    expected_wh = (500 + 1000 / 5) * 0.5634 * 1.5 * 1.2 / 3600
    assert wh == pytest.approx(expected_wh)
    assert usd == pytest.approx(expected_wh / 1000 * 0.10)


def test_defaults_are_stated_in_the_output() -> None:
    cost = marginal_cost_per_mtok(Deployment(model="Llama-3.1-70B", region="cn-west"))
    names = [note.split(" =")[0] for note in cost.assumptions]
    for name in (
        "batch_size",
        "host_overhead",
        "utilization",
        "capex_usd_per_gpu",
        "prefill_speedup",
    ):
        assert name in names
    assert cost.batch_size == 128  # the default batch, inside the measured range
    assert cost.pue == 1.2 and cost.usd_per_kwh == pytest.approx(0.35 * 0.1389)


def test_compare_regions_is_sorted_and_drops_region_overrides() -> None:
    rows = compare_regions(Deployment(model="Llama-3.1-70B", usd_per_kwh=9.0))
    totals = [r.output.total for r in rows]
    assert totals == sorted(totals)
    assert {r.region for r in rows} >= {"cn-west", "us-avg", "eu-avg", "nordics"}
    assert all(r.usd_per_kwh < 1 for r in rows)
    # same hardware everywhere: only energy differs between regions
    assert len({round(r.output.hardware, 12) for r in rows}) == 1


def test_list_price_comparison_shows_margin_or_subsidy() -> None:
    cost = marginal_cost_per_mtok(RENTED, batch_size=127.61)
    dear, cheap = compare_list_prices(cost, [("dear", 5.0, 25.0), ("cheap", 0.01, 0.1)])
    assert dear.verdict == "margin" and dear.markup_output == pytest.approx(25 / cost.output.total)
    assert dear.margin_output == pytest.approx(25 - cost.output.total)
    assert cheap.verdict == "subsidy" and cheap.markup_output < 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pue": 0.9}, "pue"),
        ({"utilization": 0.0}, "utilization"),
        ({"utilization": 1.5}, "utilization"),
        ({"usd_per_kwh": -0.1}, "usd_per_kwh"),
        ({"host_overhead": 0.5}, "host_overhead"),
        ({"rental_usd_per_gpu_hour": 2.0, "capex_usd_per_gpu": 30_000}, "rental_usd_per_gpu_hour"),
        ({"capex_usd_per_gpu": 0}, "capex_usd_per_gpu"),
        ({"amortization_years": float("nan")}, "amortization_years"),
        ({"region": "mars"}, "region"),
        ({"model": "gpt-17"}, "model"),
        ({"gpu": "B200", "model": "Llama-3.1-8B", "gpu_count": 8}, "gpu_count"),
        ({"hardware": "leased"}, "hardware"),
    ],
)
def test_bad_inputs_name_the_field(changes: dict[str, object], field: str) -> None:
    base = {"model": "Llama-3.1-70B", "gpu": "H100"}
    with pytest.raises(CostInputError) as err:
        marginal_cost_per_mtok(Deployment(**{**base, **changes}))  # type: ignore[arg-type]
    assert err.value.field == field
    # A client's bad input is a 400, not a configuration (500) error (issue 14, section 3).
    assert isinstance(err.value, BadRequest) and err.value.status == 400
    assert str(err.value).startswith(f"{field}:")


def test_batch_and_load_together_is_an_error() -> None:
    with pytest.raises(CostInputError) as err:
        marginal_cost_per_mtok(RENTED, batch_size=64, load=0.5)
    assert err.value.field == "batch_size"


def test_negative_token_counts_are_rejected() -> None:
    with pytest.raises(CostInputError) as err:
        energy_per_request(RENTED, prompt_tokens=-1, completion_tokens=10)
    assert err.value.field == "prompt_tokens"


def test_deployment_is_hashable_for_router_caches() -> None:
    assert hash(RENTED) == hash(
        Deployment(**{f: getattr(RENTED, f) for f in RENTED.__struct_fields__})
    )
