"""List prices to set beside derived serving costs: shipped ones, or the live catalog's.

The shipped list (`data/claims.toml`, from the models.dev snapshot) keeps the claim report
reproducible. `catalog_prices` reads the live catalog (`tokenport.catalog`, a floor below).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.catalog import Catalog
from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import data_toml, non_negative, require, table, text

PriceRow = tuple[str, float, float]


class ListPrice(msgspec.Struct, frozen=True):
    """USD per 1M tokens, plus the measured model that stands in for it when costing it."""

    label: str
    input: float
    output: float
    volume_t: float | None = None
    proxy_model: str | None = None
    proxy_gpu: str | None = None
    proxy_region: str | None = None
    proxy_note: str = ""

    @property
    def row(self) -> PriceRow:
        return (self.label, self.input, self.output)


def shipped_list_prices() -> list[ListPrice]:
    rows = data_toml("claims.toml").get("list_prices", [])
    return [
        _list_price(f"list_prices[{i}]", table(f"list_prices[{i}]", r)) for i, r in enumerate(rows)
    ]


def _list_price(field: str, row: Any) -> ListPrice:
    volume = row.get("volume_t")
    return ListPrice(
        label=text(f"{field}.label", require(field, row, "label")),
        input=non_negative(f"{field}.input", require(field, row, "input")),
        output=non_negative(f"{field}.output", require(field, row, "output")),
        volume_t=None if volume is None else non_negative(f"{field}.volume_t", volume),
        proxy_model=row.get("proxy_model"),
        proxy_gpu=row.get("proxy_gpu"),
        proxy_region=row.get("proxy_region"),
        proxy_note=str(row.get("proxy_note", "")),
    )


def by_label(prices: list[ListPrice], label: str) -> ListPrice:
    for price in prices:
        if price.label == label:
            return price
    raise CostInputError(
        "list_price", f"no list price labelled {label!r}", [p.label for p in prices]
    )


def parse_price(spec: str) -> PriceRow:
    """`LABEL=IN/OUT`, e.g. `deepseek=0.14/0.28`, as given on the command line."""
    label, sep, rest = spec.partition("=")
    pin, slash, pout = rest.partition("/")
    if not (sep and slash and label.strip()):
        raise CostInputError("list_price", f"expected LABEL=INPUT/OUTPUT, got {spec!r}")
    field = f"list_price.{label.strip()}"
    return label.strip(), non_negative(f"{field}.input", pin), non_negative(f"{field}.output", pout)


def catalog_prices(search: str, limit: int = 10) -> list[PriceRow]:
    """List prices of catalog entries matching `search`; a clear error if there is no catalog."""
    catalog = Catalog.load()
    entries = list(catalog.filter(search=search))[:limit]
    if not entries:
        raise CostInputError("catalog", f"no catalog model matches {search!r}")
    return [(str(e.id), float(e.pricing.input), float(e.pricing.output)) for e in entries]
