"""List prices to set beside derived serving costs: given on the command line, or the catalog's.

`catalog_prices` reads the catalog (`tokenport.catalog`, a floor below). The claim report's
shipped list prices live with the claims (`lab/claims/prices.py`).
"""

from __future__ import annotations

from tokenport.catalog import Catalog
from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import non_negative

PriceRow = tuple[str, float, float]


def parse_price(spec: str) -> PriceRow:
    """`LABEL=IN/OUT`, e.g. `deepseek=0.14/0.28`, as given on the command line."""
    label, sep, rest = spec.partition("=")
    pin, slash, pout = rest.partition("/")
    if not (sep and slash and label.strip()):
        raise CostInputError("list_price", f"expected LABEL=INPUT/OUTPUT, got {spec!r}")
    field = f"list_price.{label.strip()}"
    return label.strip(), non_negative(f"{field}.input", pin), non_negative(f"{field}.output", pout)


def catalog_prices(search: str, limit: int = 10) -> list[PriceRow]:
    """List prices of catalog entries matching `search`; a clear error if none matches."""
    entries = list(Catalog.load().filter(search=search))[:limit]
    if not entries:
        raise CostInputError("catalog", f"no catalog model matches {search!r}")
    return [(str(e.id), float(e.pricing.input), float(e.pricing.output)) for e in entries]
