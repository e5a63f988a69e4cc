"""From a request to an ordered list of routes to try.

OpenRouter-compatible: `model` (a `provider/model` id or a model slug several providers
serve, with optional `:floor` / `:nitro` suffix), `models` (ordered fallbacks) and
`provider` preferences (order, allow_fallbacks, sort, max_price, only, ignore; the data
filters of `routing.filters`; `preferred_min_throughput` / `preferred_max_latency`).

`sort: "latency" | "throughput"` and the `preferred_*` cut-offs read the figures tokenport
measures itself (`routing.speed`); a route with no figures yet sorts after every measured
one (then by price), and counts as missing a preference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from tokenport.catalog.model import ModelEntry
from tokenport.errors import BadRequest, ModelNotFound, ProviderNotConfigured
from tokenport.providers.base import ProviderState
from tokenport.routing import filters
from tokenport.routing.health import Health
from tokenport.routing.speed import RouteSpeed, SpeedBook
from tokenport.values import ChatRequest, Percentiles, ProviderPrefs, Route, Sort

_SUFFIX_SORT: dict[str, Sort] = {"floor": "price", "nitro": "throughput"}


def split_suffix(model: str) -> tuple[str, Sort | None]:
    base, sep, suffix = model.rpartition(":")
    if sep and suffix in _SUFFIX_SORT:
        return base, _SUFFIX_SORT[suffix]
    return model, None


def _route(e: ModelEntry, state: ProviderState) -> Route:
    return Route(
        e.provider,
        e.upstream_id,
        e.id,
        e.pricing,
        e.context_length,
        e.max_output,
        state.policy_of(e.upstream_id),
    )


def _price_key(r: Route) -> float:
    return r.pricing.input + r.pricing.output


def _sorted(
    routes: list[Route],
    sort: Sort | None,
    health: Health,
    providers: Mapping[str, ProviderState],
) -> list[Route]:
    if sort == "cost":
        # What serving costs: a deployment's marginal cost from the kilowatt-hour up, a paid
        # provider's list price (which is what it costs us).
        def cost(r: Route) -> float:
            own = providers[r.provider].cost
            return own.input + own.output if own is not None else _price_key(r)

        return sorted(routes, key=cost)
    if sort == "latency":
        return sorted(routes, key=lambda r: _speed_key(health.ttft_ms(r.model_id), r))
    if sort == "throughput":
        return sorted(routes, key=lambda r: _speed_key(_neg(health.throughput(r.model_id)), r))
    # Default and "price": the cheapest route first, as the product promises.
    return sorted(routes, key=_price_key)


def _neg(x: float | None) -> float | None:
    return -x if x is not None else None


def _speed_key(figure: float | None, r: Route) -> tuple[int, float, float]:
    """Measured routes by their figure, then the unmeasured ones; price breaks ties."""
    return (0, figure, _price_key(r)) if figure is not None else (1, 0.0, _price_key(r))


def _meets(cut: float | Percentiles, got: Percentiles | None, at_least: bool) -> bool:
    if got is None:
        return False
    cuts = Percentiles(p50=cut) if isinstance(cut, int | float) else cut
    for name in ("p50", "p75", "p90", "p99"):
        want, have = getattr(cuts, name), getattr(got, name)
        if want is not None and (have < want if at_least else have > want):
            return False
    return True


def _preferred(routes: list[Route], prefs: ProviderPrefs, book: SpeedBook) -> list[Route]:
    """Routes that meet `preferred_min_throughput` / `preferred_max_latency` first; the
    others after them, in their order (a preference never excludes)."""
    tps, lat = prefs.preferred_min_throughput, prefs.preferred_max_latency
    # OpenRouter gives latency in seconds; tokenport measures milliseconds.
    ms = _seconds_to_ms(lat) if lat is not None else None

    def good(r: Route) -> bool:
        s: RouteSpeed | None = book.speed(r.model_id)
        if tps is not None and not _meets(tps, s.throughput if s else None, at_least=True):
            return False
        return ms is None or _meets(ms, s.ttft_ms if s else None, at_least=False)

    marks = [good(r) for r in routes]
    return [r for r, m in zip(routes, marks, strict=True) if m] + [
        r for r, m in zip(routes, marks, strict=True) if not m
    ]


def _seconds_to_ms(cut: float | Percentiles) -> float | Percentiles:
    if isinstance(cut, int | float):
        return cut * 1000.0
    return Percentiles(
        *(None if v is None else v * 1000.0 for v in (cut.p50, cut.p75, cut.p90, cut.p99))
    )


def _prefs_filter(routes: list[Route], prefs: ProviderPrefs | None) -> list[Route]:
    if prefs is None:
        return routes
    if prefs.only:
        keep = {p.lower() for p in prefs.only}
        routes = [r for r in routes if r.provider.lower() in keep]
    if prefs.ignore:
        drop = {p.lower() for p in prefs.ignore}
        routes = [r for r in routes if r.provider.lower() not in drop]
    if prefs.max_price is not None:
        mp = prefs.max_price
        routes = [
            r
            for r in routes
            if (mp.prompt is None or r.pricing.input <= mp.prompt)
            and (mp.completion is None or r.pricing.output <= mp.completion)
        ]
    if prefs.order:
        rank = {p.lower(): i for i, p in enumerate(prefs.order)}
        routes = sorted(routes, key=lambda r: rank.get(r.provider.lower(), len(rank)))
        if not prefs.allow_fallbacks:
            routes = [r for r in routes if r.provider.lower() in rank]
    return routes


def _set_fields(request: ChatRequest) -> set[str]:
    fields = {
        name
        for name in (
            "tools",
            "tool_choice",
            "response_format",
            "seed",
            "stop",
            "n",
            "logit_bias",
            "presence_penalty",
            "frequency_penalty",
            "top_p",
        )
        if getattr(request, name) is not None
    }
    return fields | set(request.extra)


def _within_reach(
    routes: list[Route], providers: Mapping[str, ProviderState], max_rtt_ms: float | None
) -> list[Route]:
    if max_rtt_ms is None:
        return routes
    return [r for r in routes if (providers[r.provider].rtt_ms or 0.0) <= max_rtt_ms]


def plan(
    request: ChatRequest,
    resolve: Callable[[str], list[ModelEntry]],
    suggest: Callable[[str], list[str]],
    providers: Mapping[str, ProviderState],
    health: Health,
    max_rtt_ms: float | None = None,
) -> list[Route]:
    """The ordered routes for a request. Raises a client error when none can serve it.

    `max_rtt_ms` is the request's latency budget: routes further away are left out.
    """
    names = _dedupe([request.model, *(request.models or [])])
    prefs = request.provider
    sent = _set_fields(request)
    policed = filters.wanted(prefs)
    speedy = prefs is not None and (
        prefs.preferred_min_throughput is not None or prefs.preferred_max_latency is not None
    )
    routes: list[Route] = []
    unknown: list[str] = []
    unconfigured: set[str] = set()
    refused: list[str] = []
    too_far: list[str] = []
    excluded: list[str] = []
    for name in names:
        base, suffix_sort = split_suffix(name)
        entries = resolve(base)
        if not entries:
            unknown.append(base)
            continue
        usable = []
        for e in entries:
            state = providers.get(e.provider)
            if state is None or not state.available:
                unconfigured.add(
                    f"{e.provider} needs {state.missing_key_env}"
                    if state and state.missing_key_env
                    else f"{e.provider} is not enabled"
                )
                continue
            blocked = sent & state.unsupported
            if blocked:
                refused.append(f"{e.provider} does not support {', '.join(sorted(blocked))}")
                continue
            usable.append(_route(e, state))
        if policed and prefs is not None:
            usable = filters.keep(usable, prefs, request, excluded)
        sort = suffix_sort or (prefs.sort if prefs else None)
        near = _within_reach(usable, providers, max_rtt_ms)
        too_far += [r.provider for r in usable if r not in near]
        ranked = _sorted(near, sort, health, providers)
        if speedy and prefs is not None:
            ranked = _preferred(ranked, prefs, health.speed)
        routes.extend(_prefs_filter(ranked, prefs))
    if unknown and len(unknown) == len(names):
        raise ModelNotFound(unknown[0], suggest(unknown[0]))
    if routes:
        return _healthy_first(_dedupe_routes(routes), health)
    if excluded:
        raise filters.no_endpoints(excluded)
    if refused:
        raise BadRequest("No provider for this model accepts the request: " + "; ".join(refused))
    if unconfigured:
        raise ProviderNotConfigured(
            "No provider of this model is configured on this gateway: "
            + "; ".join(sorted(unconfigured))
            + ". Set it in the gateway's environment (or its config file) and restart the "
            "gateway; this is a configuration problem, so retrying will not help."
        )
    if too_far:
        raise BadRequest(
            f"Every provider of this model is further away than the request's latency budget "
            f"({max_rtt_ms:g} ms round trip): {', '.join(sorted(set(too_far)))}. Mark the "
            "request latency-tolerant with provider.latency = 'tolerant', or raise "
            "provider.max_rtt_ms.",
            param="provider",
        )
    raise BadRequest("No provider matches the request's provider preferences.", param="provider")


def _healthy_first(routes: list[Route], health: Health) -> list[Route]:
    """Providers with an open breaker go last rather than away: better late than failed."""
    return [r for r in routes if health.available(r.provider)] + [
        r for r in routes if not health.available(r.provider)
    ]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _dedupe_routes(routes: Sequence[Route]) -> list[Route]:
    seen: set[str] = set()
    out = []
    for r in routes:
        if r.model_id not in seen:
            seen.add(r.model_id)
            out.append(r)
    return out
