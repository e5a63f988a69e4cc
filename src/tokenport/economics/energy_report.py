"""Energy actually spent, by region: the ledger's watt-hours joined with the region table.

Self-hosted deployments record each request's facility energy (see
`providers/deployments.py`); the hourly rollups sum it per provider, and each provider's
deployment names its region. The carbon-free share is the region's grid average from
`data/regions.toml`, so "carbon-free kWh" is an attribution, not a metered figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from tokenport.economics.regions import Region


class RegionEnergy(msgspec.Struct):
    region: str
    providers: list[str]
    requests: int
    completion_tokens: int
    kwh: float
    usd_per_kwh: float
    energy_cost_usd: float
    carbon_free_share: float | None
    carbon_free_kwh: float | None
    wh_per_1k_tokens: float | None


class ProviderEnergy(msgspec.Struct):
    provider: str
    requests: int
    completion_tokens: int
    energy_wh: float


def by_region(
    usage: Sequence[ProviderEnergy],
    deployments: Mapping[str, tuple[str, float | None]],
    regions: Mapping[str, Region],
) -> list[RegionEnergy]:
    """`deployments` maps provider -> (region id, its own $/kWh override or None)."""
    out: dict[str, RegionEnergy] = {}
    for row in usage:
        if row.provider not in deployments or row.energy_wh <= 0:
            continue
        region_id, price_override = deployments[row.provider]
        region = regions[region_id]
        price = region.usd_per_kwh if price_override is None else price_override
        r = out.setdefault(
            region_id,
            RegionEnergy(
                region_id, [], 0, 0, 0.0, price, 0.0, region.carbon_free_share, None, None
            ),
        )
        r.providers.append(row.provider)
        r.requests += row.requests
        r.completion_tokens += row.completion_tokens
        r.kwh += row.energy_wh / 1000
        r.energy_cost_usd += row.energy_wh / 1000 * price
    for r in out.values():
        if r.carbon_free_share is not None:
            r.carbon_free_kwh = r.kwh * r.carbon_free_share
        if r.completion_tokens:
            r.wh_per_1k_tokens = r.kwh * 1000 / r.completion_tokens * 1000
        r.usd_per_kwh = r.energy_cost_usd / r.kwh if r.kwh else r.usd_per_kwh
    return sorted(out.values(), key=lambda r: -r.kwh)
