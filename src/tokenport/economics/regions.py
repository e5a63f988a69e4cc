"""Electricity price and PUE by region, from `data/regions.toml` with config overrides on top.

A region row keeps its provenance (local price, FX rate and date, source, how far to trust
it) next to the two numbers the cost model uses, so every output can say where they came
from. Overrides replace any field; overriding `usd_per_kwh` marks the row as user-set.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import (
    Table,
    at_least_one,
    data_toml,
    fraction,
    merge,
    positive,
    require,
    table,
    text,
)

FIELDS = (
    "name",
    "currency",
    "price_local",
    "price_low",
    "price_high",
    "usd_per_local",
    "fx_date",
    "fx_source",
    "usd_per_kwh",
    "source_kind",
    "source",
    "pue",
    "pue_source",
    "carbon_free_share",
    "carbon_source",
)
FX_TOLERANCE = 0.005  # the shipped USD column may be rounded, not wrong


class Region(msgspec.Struct, frozen=True):
    id: str
    name: str
    usd_per_kwh: float
    usd_per_kwh_low: float
    usd_per_kwh_high: float
    pue: float
    currency: str
    price_local: float | None
    usd_per_local: float | None
    fx_date: str
    source_kind: str
    source: str
    pue_source: str
    carbon_free_share: float | None = None
    overridden: tuple[str, ...] = ()


def load_regions(overrides: Table | None = None) -> dict[str, Region]:
    """Every region keyed by id. `overrides` is `{region_id: {field: value}}`."""
    shipped = table("regions", data_toml("regions.toml").get("regions"))
    rows = merge(shipped, overrides, "regions")
    over = overrides or {}
    return {
        key: _region(key, row, tuple(table(f"regions.{key}", over.get(key, {}))))
        for key, row in rows.items()
    }


def _region(key: str, row: dict[str, Any], overridden: tuple[str, ...]) -> Region:
    field = f"regions.{key}"
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise CostInputError(f"{field}.{unknown[0]}", "unknown field", FIELDS)
    usd, low, high = _usd_prices(field, row, overridden)
    share = row.get("carbon_free_share")
    return Region(
        id=key,
        name=str(row.get("name", key)),
        usd_per_kwh=usd,
        usd_per_kwh_low=low,
        usd_per_kwh_high=high,
        pue=at_least_one(f"{field}.pue", require(field, row, "pue")),
        currency=str(row.get("currency", "USD")),
        price_local=_optional(row, "price_local", field),
        usd_per_local=_optional(row, "usd_per_local", field),
        fx_date=str(row.get("fx_date", "n/a")),
        source_kind="override" if "usd_per_kwh" in overridden else str(row.get("source_kind", "")),
        source=text(f"{field}.source", row.get("source", "config override")),
        pue_source=str(row.get("pue_source", "config override")),
        carbon_free_share=None if share is None else fraction(f"{field}.carbon_free_share", share),
        overridden=overridden,
    )


def _usd_prices(field: str, row: dict[str, Any], overridden: tuple[str, ...]) -> tuple[float, ...]:
    """(central, low, high) USD/kWh, converted from the local price where one is given."""
    if "usd_per_kwh" in overridden or "price_local" not in row:
        usd = positive(f"{field}.usd_per_kwh", require(field, row, "usd_per_kwh"))
        return usd, usd, usd
    fx = positive(f"{field}.usd_per_local", require(field, row, "usd_per_local"))
    usd = positive(f"{field}.price_local", row["price_local"]) * fx
    if "usd_per_kwh" in row and not {"price_local", "usd_per_local"} & set(overridden):
        stated = positive(f"{field}.usd_per_kwh", row["usd_per_kwh"])
        if abs(stated - usd) > FX_TOLERANCE * usd + 1e-4:
            raise CostInputError(
                f"{field}.usd_per_kwh", f"{stated:g} != price_local x usd_per_local = {usd:.4f}"
            )
    low = positive(f"{field}.price_low", row.get("price_low", row["price_local"])) * fx
    high = positive(f"{field}.price_high", row.get("price_high", row["price_local"])) * fx
    return usd, min(low, usd), max(high, usd)


def _optional(row: dict[str, Any], key: str, field: str) -> float | None:
    return None if key not in row else positive(f"{field}.{key}", row[key])
