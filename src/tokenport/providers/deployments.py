"""Self-hosted deployments priced from the kilowatt-hour up.

A provider with a `deployment` in its config (region, GPU, power price, PUE, capex or
rental) gets a marginal cost per million tokens from `tokenport.economics`, which
`sort: "cost"` ranks beside paid providers' list prices, and an energy rate with which the
ledger records each request's watt-hours and electricity cost. Both are computed once at
start, so the request path does only arithmetic.
"""

from __future__ import annotations

import msgspec

from tokenport.config import DeploymentConfig
from tokenport.economics.costmodel import Deployment, marginal_cost_per_mtok
from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics
from tokenport.errors import ConfigError
from tokenport.values import Pricing


class EnergyRate(msgspec.Struct, frozen=True):
    wh_per_output_token: float
    wh_per_prompt_token: float
    usd_per_kwh: float
    region: str

    def of(self, prompt_tokens: int, completion_tokens: int) -> tuple[float, float]:
        """(facility watt-hours, electricity USD) for one request."""
        wh = completion_tokens * self.wh_per_output_token + prompt_tokens * self.wh_per_prompt_token
        return wh, wh / 1000.0 * self.usd_per_kwh


def profile(
    provider: str, cfg: DeploymentConfig, economics: Economics | None = None
) -> tuple[Pricing, EnergyRate]:
    fields = cfg.model_dump(exclude={"batch_size"}, exclude_none=True)
    try:
        cost = marginal_cost_per_mtok(
            Deployment(**fields), batch_size=cfg.batch_size, economics=economics
        )
    except CostInputError as exc:
        raise ConfigError(f"providers.{provider}.deployment.{exc.message}") from exc
    wh_out = cost.facility_energy_j_per_token / 3600.0
    rate = EnergyRate(wh_out, wh_out / cost.prefill_speedup, cost.usd_per_kwh, cost.region)
    return Pricing(input=cost.input.total, output=cost.output.total), rate
