"""Per-GPU hardware prices and board power, from `data/gpus.toml` with config overrides on top."""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import Table, data_toml, merge, positive, require, table

FIELDS = ("name", "board_power_w", "capex_usd", "rental_usd_per_hour", "rental_range", "source")


class GpuSpec(msgspec.Struct, frozen=True):
    id: str
    name: str
    board_power_w: float
    capex_usd: float
    rental_usd_per_hour: float
    source: str


def load_gpus(overrides: Table | None = None) -> dict[str, GpuSpec]:
    """Every GPU keyed by id. `overrides` is `{gpu_id: {field: value}}`."""
    rows = merge(table("gpus", data_toml("gpus.toml").get("gpus")), overrides, "gpus")
    return {key: _gpu(key, row) for key, row in rows.items()}


def _gpu(key: str, row: dict[str, Any]) -> GpuSpec:
    field = f"gpus.{key}"
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise CostInputError(f"{field}.{unknown[0]}", "unknown field", FIELDS)
    return GpuSpec(
        id=key,
        name=str(row.get("name", key)),
        board_power_w=positive(f"{field}.board_power_w", require(field, row, "board_power_w")),
        capex_usd=positive(f"{field}.capex_usd", require(field, row, "capex_usd")),
        rental_usd_per_hour=positive(
            f"{field}.rental_usd_per_hour", require(field, row, "rental_usd_per_hour")
        ),
        source=str(row.get("source", "config override")),
    )
