"""Token economics: hardware, measured energy, PUE and electricity price -> USD per Mtok.

    energy.py       ML.ENERGY v3 measurements, interpolated between batch sizes (log-log)
    regions.py      electricity price and PUE per region, with sources   (data/regions.toml)
    gpus.py         board power, capex and rental per GPU                  (data/gpus.toml)
    settings.py     `Economics`: all of the above + defaults, loaded once, config overrides
    costmodel.py    `Deployment` -> `CostBreakdown` (energy / hardware / other), per request;
                    `usd_per_mtok`: a per-GPU-hour cost spread over a million tokens
    api.py          `GET /api/v1/economics`;  cli.py: `tokenport costs`, `tokenport economics`

The press claims checked against this model, and the DeepSeek reproduction, are offline work
in `tokenport.lab.claims`; the CLI imports it lazily.

Importing this package reads no file; data load on first use (`default_economics()`).
starlette and typer are imported only by api and cli.
"""

from tokenport.economics.costmodel import (
    CostBreakdown,
    CostComponents,
    Deployment,
    PriceComparison,
    compare_list_prices,
    compare_regions,
    energy_per_request,
    marginal_cost_per_mtok,
)
from tokenport.economics.errors import CostInputError
from tokenport.economics.settings import Economics, default_economics

__all__ = [
    "CostBreakdown",
    "CostComponents",
    "CostInputError",
    "Deployment",
    "Economics",
    "PriceComparison",
    "compare_list_prices",
    "compare_regions",
    "default_economics",
    "energy_per_request",
    "marginal_cost_per_mtok",
]
