"""Token economics: hardware, measured energy, PUE and electricity price -> USD per Mtok.

    energy.py       ML.ENERGY v3 measurements, interpolated between batch sizes (log-log)
    regions.py      electricity price and PUE per region, with sources   (data/regions.toml)
    gpus.py         board power, capex and rental per GPU                  (data/gpus.toml)
    settings.py     `Economics`: all of the above + defaults, loaded once, config overrides
    costmodel.py    `Deployment` -> `CostBreakdown` (energy / hardware / other), per request
    claims.py       press claims as data, and the verdict rule           (data/claims.toml)
    claimchecks.py  one checker per claim kind; `check_claims`
    report.py       the HTML / JSON claim report; charts.py: its Chart.js configs
    api.py          `GET /api/v1/economics`;  cli.py: `tokenport costs`, `tokenport economics`

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
