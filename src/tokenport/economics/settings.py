"""Everything the cost model reads, loaded once: energy table, regions, GPUs and defaults.

`Economics.load(overrides)` validates the shipped data with the config's overrides laid on
top and fails at start with a `CostInputError` naming the bad field. `default_economics()`
memoises the no-override load, so the router and ledger never re-parse the CSV per call.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from tokenport.economics.energy import EnergyTable
from tokenport.economics.errors import CostInputError
from tokenport.economics.gpus import GpuSpec, load_gpus
from tokenport.economics.inputs import (
    Table,
    at_least_one,
    data_toml,
    fraction,
    non_negative,
    positive,
    table,
)
from tokenport.economics.regions import Region, load_regions
from tokenport.errors import ConfigError

if TYPE_CHECKING:
    from tokenport.config import Settings

SECTIONS = ("regions", "gpus", "assumptions")


class Assumptions(msgspec.Struct, frozen=True):
    """Defaults for inputs a caller leaves out; `why` holds each one's stated reason."""

    batch_size: float
    host_overhead: float
    utilization: float
    amortization_years: float
    other_usd_per_gpu_hour: float
    prefill_speedup: float
    why: dict[str, str] = msgspec.field(default_factory=dict)


def load_assumptions(overrides: Table | None = None) -> Assumptions:
    row: dict[str, Any] = dict(table("assumptions", data_toml("assumptions.toml")["assumptions"]))
    why = {k.removesuffix("_why"): str(v) for k, v in row.items() if k.endswith("_why")}
    for key, value in (overrides or {}).items():
        if key not in Assumptions.__struct_fields__ or key == "why":
            raise CostInputError(f"assumptions.{key}", "unknown field", sorted(why))
        row[key] = value
        why[key] = "config override"
    return Assumptions(
        batch_size=positive("assumptions.batch_size", row.get("batch_size")),
        host_overhead=at_least_one("assumptions.host_overhead", row.get("host_overhead")),
        utilization=fraction("assumptions.utilization", row.get("utilization")),
        amortization_years=positive(
            "assumptions.amortization_years", row.get("amortization_years")
        ),
        other_usd_per_gpu_hour=non_negative(
            "assumptions.other_usd_per_gpu_hour", row.get("other_usd_per_gpu_hour")
        ),
        prefill_speedup=positive("assumptions.prefill_speedup", row.get("prefill_speedup")),
        why=why,
    )


@dataclass(frozen=True)
class Economics:
    energy: EnergyTable
    regions: Mapping[str, Region]
    gpus: Mapping[str, GpuSpec]
    assumptions: Assumptions

    @classmethod
    def load(cls, overrides: Table | None = None, energy: EnergyTable | None = None) -> Economics:
        """`overrides` is the config's `economics` table: `{regions|gpus|assumptions: {...}}`."""
        over = table("economics", overrides or {})
        unknown = sorted(set(over) - set(SECTIONS))
        if unknown:
            raise CostInputError(f"economics.{unknown[0]}", "unknown section", SECTIONS)
        return cls(
            energy=energy or EnergyTable.load(),
            regions=load_regions(_section(over, "regions")),
            gpus=load_gpus(_section(over, "gpus")),
            assumptions=load_assumptions(_section(over, "assumptions")),
        )

    def region(self, region_id: str) -> Region:
        if region_id not in self.regions:
            raise CostInputError("region", f"unknown region {region_id!r}", sorted(self.regions))
        return self.regions[region_id]

    def gpu(self, gpu_id: str) -> GpuSpec:
        for key, spec in self.gpus.items():
            if key.lower() == gpu_id.lower():
                return spec
        raise CostInputError("gpu", f"no hardware prices for {gpu_id!r}", sorted(self.gpus))


def _section(overrides: Table, name: str) -> Table | None:
    value = overrides.get(name)
    return None if value is None else table(f"economics.{name}", value)


@functools.lru_cache(maxsize=1)
def default_economics() -> Economics:
    """The shipped data with no overrides, parsed on first use and then shared."""
    return Economics.load()


def economics_of(settings: Settings) -> Economics:
    """The cost model's data with the config's `[economics]` overrides (ConfigError if bad)."""
    if not settings.economics:
        return default_economics()
    try:
        return Economics.load(settings.economics)
    except CostInputError as exc:
        # Name the field as it is spelled in the config file.
        raise ConfigError(f"economics.{exc.message.removeprefix('economics.')}") from exc
