"""USD per million tokens for one deployment, split into energy, hardware and other.

Per output token, at the interpolated operating point (E joules of GPU energy per token,
T tokens/s for the whole deployment of n GPUs):

    energy   $/Mtok = E * host_overhead * PUE * 1e6 / 3.6e6 * usd_per_kwh
    hardware $/Mtok = n * gpu_hour_usd * 1e6 / (T * 3600 * utilization)
    other    $/Mtok = n * other_usd_per_gpu_hour * 1e6 / (T * 3600 * utilization)

    gpu_hour_usd = capex_usd_per_gpu / (amortization_years * 8760)   (owner-operated)
                 | rental_usd_per_gpu_hour                              (rented)

Energy is paid only while serving (idle draw is left out: a few % at typical utilisation);
hardware and other costs run every hour, so they are spread over the utilised hours only.
Input tokens are priced at output cost / prefill_speedup (see `data/assumptions.toml`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import msgspec

from tokenport.economics.energy import EnergyCurve, OperatingPoint
from tokenport.economics.errors import CostInputError
from tokenport.economics.inputs import at_least_one, fraction, non_negative, positive
from tokenport.economics.settings import Economics, default_economics

HOURS_PER_YEAR = 8760
J_PER_KWH = 3.6e6
Basis = Literal["capex", "rental"]
Check = Callable[[str, object], float]


class Deployment(msgspec.Struct, frozen=True, kw_only=True):
    """Where and on what a model is served. `None` fields fall back to region, GPU or defaults.

    Hardware is owner-operated (capex amortised) unless `hardware="rental"` or a rental price
    is given. Frozen and hashable, so the router can key caches on it.
    """

    model: str
    gpu: str = "H100"
    region: str = "us-avg"
    gpu_count: int | None = None
    task: str | None = None
    usd_per_kwh: float | None = None
    pue: float | None = None
    hardware: Basis | None = None
    capex_usd_per_gpu: float | None = None
    amortization_years: float | None = None
    rental_usd_per_gpu_hour: float | None = None
    utilization: float | None = None
    host_overhead: float | None = None
    other_usd_per_gpu_hour: float | None = None


class CostComponents(msgspec.Struct, frozen=True):
    """USD per million tokens."""

    energy: float
    hardware: float
    other: float
    total: float

    def scaled(self, factor: float) -> CostComponents:
        return components(self.energy * factor, self.hardware * factor, self.other * factor)


def components(energy: float, hardware: float, other: float) -> CostComponents:
    return CostComponents(energy, hardware, other, energy + hardware + other)


class CostBreakdown(msgspec.Struct, frozen=True):
    """The cost of one deployment at one load, with every input it used."""

    model_id: str
    task: str
    gpu: str
    gpu_count: int
    region: str
    batch_size: float
    batch_clamped: bool
    gpu_energy_j_per_token: float
    facility_energy_j_per_token: float
    tokens_per_s: float
    usd_per_kwh: float
    pue: float
    host_overhead: float
    utilization: float
    hardware_basis: Basis
    gpu_hour_usd: float
    other_usd_per_gpu_hour: float
    prefill_speedup: float
    output: CostComponents
    input: CostComponents
    energy_share: float
    assumptions: list[str]


class PriceComparison(msgspec.Struct, frozen=True):
    """A list price beside the derived serving cost. markup > 1 is margin, < 1 a subsidy."""

    label: str
    list_input: float
    list_output: float
    cost_input: float
    cost_output: float
    markup_input: float
    markup_output: float
    margin_output: float
    verdict: Literal["margin", "subsidy"]


def usd_per_mtok(
    gpus: float, usd_per_gpu_hour: float, tokens_per_s: float, utilization: float
) -> float:
    """A per-GPU-hour cost spread over a million tokens: `gpus` paid every hour, serving
    `tokens_per_s` for the `utilization` share of hours (the module docstring's hardware line)."""
    return gpus * usd_per_gpu_hour * 1e6 / (tokens_per_s * 3600 * utilization)


def marginal_cost_per_mtok(
    deployment: Deployment,
    *,
    batch_size: float | None = None,
    load: float | None = None,
    economics: Economics | None = None,
) -> CostBreakdown:
    """Cost per million tokens at `batch_size` concurrent sequences, or at `load` (0..1 of the
    measured range), or at the default batch clamped to the measured range."""
    econ = economics or default_economics()
    d = deployment
    curve = econ.energy.find(d.model, d.gpu, d.gpu_count, d.task)
    costing = _Costing(d, econ, curve)
    if batch_size is None and load is None:
        costing.note("batch_size", econ.assumptions.batch_size)
    return costing.at(_operating_point(curve, econ, batch_size, load))


def energy_per_request(
    deployment: Deployment,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    batch_size: float | None = None,
    economics: Economics | None = None,
) -> tuple[float, float]:
    """(facility watt-hours, electricity USD) for one request, input priced as prefill."""
    prompt = non_negative("prompt_tokens", prompt_tokens)
    completion = non_negative("completion_tokens", completion_tokens)
    cost = marginal_cost_per_mtok(deployment, batch_size=batch_size, economics=economics)
    token_equivalents = completion + prompt / cost.prefill_speedup
    wh = cost.facility_energy_j_per_token * token_equivalents / 3600
    return wh, wh / 1000 * cost.usd_per_kwh


def compare_regions(
    deployment: Deployment,
    *,
    batch_size: float | None = None,
    load: float | None = None,
    economics: Economics | None = None,
) -> list[CostBreakdown]:
    """The same deployment costed in every region, cheapest first. Region-specific overrides
    (electricity price, PUE) are dropped, since they belong to one region only."""
    econ = economics or default_economics()
    out = [
        marginal_cost_per_mtok(
            msgspec.structs.replace(deployment, region=rid, usd_per_kwh=None, pue=None),
            batch_size=batch_size,
            load=load,
            economics=econ,
        )
        for rid in econ.regions
    ]
    return sorted(out, key=lambda c: c.output.total)


def compare_list_prices(
    cost: CostBreakdown, prices: Iterable[tuple[str, float, float]]
) -> list[PriceComparison]:
    """Each (label, input USD/Mtok, output USD/Mtok) list price against `cost`."""
    out = []
    for label, list_in, list_out in prices:
        pin = non_negative(f"list_price.{label}.input", list_in)
        pout = non_negative(f"list_price.{label}.output", list_out)
        out.append(
            PriceComparison(
                label=label,
                list_input=pin,
                list_output=pout,
                cost_input=cost.input.total,
                cost_output=cost.output.total,
                markup_input=pin / cost.input.total,
                markup_output=pout / cost.output.total,
                margin_output=pout - cost.output.total,
                verdict="margin" if pout >= cost.output.total else "subsidy",
            )
        )
    return out


def _operating_point(
    curve: EnergyCurve, econ: Economics, batch_size: float | None, load: float | None
) -> OperatingPoint:
    if batch_size is not None and load is not None:
        raise CostInputError("batch_size", "give batch_size or load, not both")
    if batch_size is not None:
        return curve.at(batch_size)
    if load is not None:
        return curve.at_load(load)
    return curve.at_clamped(econ.assumptions.batch_size)


class _Inputs(NamedTuple):
    region: str
    price: float
    pue: float
    host: float
    util: float
    basis: Basis
    gpu_hour: float
    other: float


class _Costing:
    """Resolves a deployment's inputs (own value, else region/GPU, else default) and applies
    the formulas in the module docstring, recording which defaults it leaned on."""

    def __init__(self, deployment: Deployment, econ: Economics, curve: EnergyCurve) -> None:
        self.d = deployment
        self.econ = econ
        self.curve = curve
        self.used: list[str] = []

    def at(self, point: OperatingPoint) -> CostBreakdown:
        i = self._inputs()
        if point.clamped:
            self.used.append(f"batch_size clamped to the measured range: {point.batch_size:g}")
        facility_j = point.energy_j_per_token * i.host * i.pue
        n, rate = self.curve.gpu_count, point.tokens_per_s
        out = components(
            energy=facility_j * 1e6 / J_PER_KWH * i.price,
            hardware=usd_per_mtok(n, i.gpu_hour, rate, i.util),
            other=usd_per_mtok(n, i.other, rate, i.util),
        )
        speedup = self.econ.assumptions.prefill_speedup
        return CostBreakdown(
            model_id=self.curve.model_id,
            task=self.curve.task,
            gpu=self.curve.gpu,
            gpu_count=n,
            region=i.region,
            batch_size=point.batch_size,
            batch_clamped=point.clamped,
            gpu_energy_j_per_token=point.energy_j_per_token,
            facility_energy_j_per_token=facility_j,
            tokens_per_s=point.tokens_per_s,
            usd_per_kwh=i.price,
            pue=i.pue,
            host_overhead=i.host,
            utilization=i.util,
            hardware_basis=i.basis,
            gpu_hour_usd=i.gpu_hour,
            other_usd_per_gpu_hour=i.other,
            prefill_speedup=speedup,
            output=out,
            input=out.scaled(1 / speedup),
            energy_share=out.energy / out.total,
            assumptions=self.used,
        )

    def _inputs(self) -> _Inputs:
        d, a = self.d, self.econ.assumptions
        region = self.econ.region(d.region)
        basis, gpu_hour = self._gpu_hour()
        # rental prices already include facility, network and staff
        other_default = a.other_usd_per_gpu_hour if basis == "capex" else 0.0
        inputs = _Inputs(
            region=region.id,
            price=region.usd_per_kwh
            if d.usd_per_kwh is None
            else positive("usd_per_kwh", d.usd_per_kwh),
            pue=region.pue if d.pue is None else at_least_one("pue", d.pue),
            host=self._default("host_overhead", d.host_overhead, a.host_overhead, at_least_one),
            util=self._default("utilization", d.utilization, a.utilization, fraction),
            basis=basis,
            gpu_hour=gpu_hour,
            other=self._default(
                "other_usd_per_gpu_hour", d.other_usd_per_gpu_hour, other_default, non_negative
            ),
        )
        self.note("prefill_speedup", a.prefill_speedup)  # always assumed: nothing measures it
        return inputs

    def _gpu_hour(self) -> tuple[Basis, float]:
        d = self.d
        rental = d.hardware == "rental" or d.rental_usd_per_gpu_hour is not None
        if d.hardware not in (None, "capex", "rental"):
            raise CostInputError("hardware", f"unknown basis {d.hardware!r}", ["capex", "rental"])
        if rental and (d.capex_usd_per_gpu is not None or d.amortization_years is not None):
            raise CostInputError("rental_usd_per_gpu_hour", "give capex or rental, not both")
        spec = self.econ.gpu(self.curve.gpu)
        if rental:
            rate = d.rental_usd_per_gpu_hour
            return "rental", self._default(
                "rental_usd_per_gpu_hour", rate, spec.rental_usd_per_hour
            )
        capex = self._default("capex_usd_per_gpu", d.capex_usd_per_gpu, spec.capex_usd)
        years = self._default(
            "amortization_years", d.amortization_years, self.econ.assumptions.amortization_years
        )
        return "capex", capex / (years * HOURS_PER_YEAR)

    def _default(
        self, name: str, given: float | None, fallback: float, check: Check = positive
    ) -> float:
        """`given` validated, else `fallback`, noting the default and why it was chosen."""
        if given is not None:
            return check(name, given)
        self.note(name, fallback)
        return fallback

    def note(self, name: str, value: float) -> None:
        why = self.econ.assumptions.why.get(name, "from the GPU table (data/gpus.toml)")
        self.used.append(f"{name} = {value:g}: {' '.join(why.split())}")
