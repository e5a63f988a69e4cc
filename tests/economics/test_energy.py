"""Energy table: loading the shipped CSV, lookup, and log-log interpolation by hand."""

from __future__ import annotations

import math

import pytest

from tokenport.economics.energy import EnergyTable
from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import default_economics

# Rows of data/ml_energy_llm.csv used below (meta-llama/Llama-3.1-70B-Instruct, lm-arena-chat,
# 4xH100): max_num_seqs, avg_batch_size, energy_per_token_j, output_tokens_per_s
#   128, 127.61, 0.5634, 3876.3
#   192, 191.62, 0.514,  4461.2


@pytest.fixture(scope="module")
def table() -> EnergyTable:
    return default_economics().energy


def test_measured_point_comes_back_exactly(table: EnergyTable) -> None:
    curve = table.find("Llama-3.1-70B", "H100")
    point = curve.at(127.61)
    assert (point.energy_j_per_token, point.tokens_per_s) == (0.5634, 3876.3)
    assert not point.clamped


def test_interpolation_between_batches_is_log_log(table: EnergyTable) -> None:
    point = table.find("Llama-3.1-70B", "H100").at(160)
    # t = ln(160 / 127.61) / ln(191.62 / 127.61); y = y0 * (y1 / y0) ** t
    t = math.log(160 / 127.61) / math.log(191.62 / 127.61)
    assert point.energy_j_per_token == pytest.approx(0.5634 * (0.514 / 0.5634) ** t, rel=1e-12)
    assert point.tokens_per_s == pytest.approx(3876.3 * (4461.2 / 3876.3) ** t, rel=1e-12)
    assert 0.514 < point.energy_j_per_token < 0.5634
    assert point.power_w == pytest.approx(point.energy_j_per_token * point.tokens_per_s)


def test_load_spans_the_measured_range(table: EnergyTable) -> None:
    curve = table.find("Llama-3.1-70B", "H100")
    assert curve.at_load(0).batch_size == 7.99
    assert curve.at_load(1).batch_size == 898.45
    assert curve.at_load(0.5).batch_size == pytest.approx(math.sqrt(7.99 * 898.45))
    with pytest.raises(CostInputError) as err:
        curve.at_load(1.5)
    assert err.value.field == "load"


def test_batch_outside_measured_range_is_an_error_naming_the_field(table: EnergyTable) -> None:
    curve = table.find("Llama-3.1-70B", "H100")
    with pytest.raises(CostInputError, match=r"7\.99-898\.45") as err:
        curve.at(5000)
    assert err.value.field == "batch_size"
    clamped = curve.at_clamped(5000)
    assert clamped.clamped and clamped.batch_size == 898.45


def test_repeated_runs_are_averaged() -> None:
    # Qwen3-30B-A3B-Instruct-2507 on 2xH100 has two runs at max_num_seqs 256:
    # (255.8, 0.1335 J, 7154.1 tok/s) and (255.7, 0.147 J, 7437.0 tok/s).
    curve = default_economics().energy.find("Qwen3-30B-A3B-Instruct-2507", "H100", 2)
    assert list(curve.batch) == sorted(curve.batch)
    i = curve.batch.index(pytest.approx((255.8 + 255.7) / 2))
    assert curve.energy[i] == pytest.approx((0.1335 + 0.147) / 2)
    assert curve.throughput[i] == pytest.approx((7154.1 + 7437.0) / 2)


def test_model_matching_prefers_the_plain_variant(table: EnergyTable) -> None:
    assert table.find("Llama-3.1-70B", "H100").model_id == "meta-llama/Llama-3.1-70B-Instruct"
    assert table.find("llama-3.1-405b", "H100").model_id.endswith("405B-Instruct-FP8")
    assert table.find("meta-llama/Llama-3.1-8B-Instruct", "h100").gpu == "H100"
    fewest = table.find("Qwen3-235B-A22B-Instruct-2507-FP8", "H100")
    assert fewest.gpu_count == 4
    assert table.find("Qwen3-14B", "H100").task == "lm-arena-chat"
    assert table.find("Qwen3-14B", "H100", task="gpqa").task == "gpqa"


@pytest.mark.parametrize(
    ("args", "field", "allowed"),
    [
        (("no-such-model", "H100", None, None), "model", "Llama-3.1-70B-Instruct"),
        (("DeepSeek-V3.1", "H100", None, None), "gpu", "B200"),
        (("Llama-3.1-70B", "H100", 3, None), "gpu_count", "4"),
        (("Llama-3.1-70B", "H100", 4, "gpqa"), "task", "lm-arena-chat"),
    ],
)
def test_unknown_lookup_names_field_and_allowed_values(
    table: EnergyTable, args: tuple[str, str, int | None, str | None], field: str, allowed: str
) -> None:
    with pytest.raises(CostInputError) as err:
        table.find(*args)
    assert err.value.field == field
    assert allowed in (err.value.allowed or ())


def test_csv_missing_a_column_is_rejected() -> None:
    with pytest.raises(CostInputError) as err:
        EnergyTable.from_csv("model_id,task\nx,y\n")
    assert err.value.field == "ml_energy_llm.csv.gpu_model"


def test_whole_table_range(table: EnergyTable) -> None:
    # min and max of the energy_per_token_j column, checked by eye against the CSV
    assert table.energy_range() == (0.0284, 34.3336)
    assert len(table.curves) == 72
