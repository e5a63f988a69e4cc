"""OpenRouter's provider filters on endpoint data: data policy, quantization, parameters.

`provider.data_collection: "deny"`, `provider.zdr: true`, `provider.quantizations: [...]`
and `provider.require_parameters: true` keep only the routes whose `EndpointPolicy`
(`providers.toml`, overridable in the config) satisfies them. A field a provider does not
declare fails the filter: a route is private only when it is known to be. A request that no
route satisfies gets OpenRouter's 404, naming what each filter excluded.

None of this runs unless the request sets one of the four fields (`wanted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from tokenport.errors import NoEndpoints
from tokenport.values import ChatRequest, Parameter, ProviderPrefs, Route

# OpenRouter's parameter names, as `supported_parameters` lists them.
PARAMETERS: frozenset[str] = frozenset(get_args(Parameter))
# ChatRequest fields whose OpenRouter parameter has the same name.
_SAME_NAME = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
)


def wanted(prefs: ProviderPrefs | None) -> bool:
    """Whether the request asks for any filter here (the common case is no)."""
    return prefs is not None and (
        prefs.data_collection == "deny"
        or bool(prefs.zdr)
        or prefs.quantizations is not None
        or prefs.require_parameters
    )


def request_parameters(request: ChatRequest) -> frozenset[str]:
    """The OpenRouter parameters a request sets (for `require_parameters`)."""
    used = {name for name in _SAME_NAME if getattr(request, name) is not None}
    if request.output_cap() is not None:
        used.add("max_tokens")
    if request.response_format is not None:
        used.add("response_format")
        if request.response_format.get("type") == "json_schema":
            used.add("structured_outputs")
    thinking = request.thinking
    if request.reasoning_effort is not None or (
        thinking is not None and thinking.type != "disabled"
    ):
        used.add("reasoning")
    used.update(k for k in request.extra if k in PARAMETERS)
    return frozenset(used)


def _why_not(route: Route, prefs: ProviderPrefs, params: frozenset[str]) -> tuple[str, str] | None:
    """(filter, reason) that excludes `route`, or None when it passes every filter."""
    p = route.policy
    if prefs.data_collection == "deny" and (p is None or p.data_collection != "deny"):
        told = p.data_collection if p and p.data_collection else "undeclared"
        return "data_collection", f"{route.model_id} (data_collection: {told})"
    if prefs.zdr and (p is None or p.zdr is not True):
        return (
            "zdr",
            f"{route.model_id} (zdr: {p.zdr if p and p.zdr is not None else 'undeclared'})",
        )
    if prefs.quantizations is not None:
        q = (p.quantization if p else None) or "unknown"
        if q not in prefs.quantizations:
            return "quantizations", f"{route.model_id} (quantization: {q})"
    if prefs.require_parameters and params:
        supported = p.supported_parameters if p else None
        missing = params if supported is None else params - supported
        if missing:
            return "require_parameters", f"{route.model_id} (lacks {', '.join(sorted(missing))})"
    return None


def keep(
    routes: Iterable[Route], prefs: ProviderPrefs, request: ChatRequest, excluded: list[str]
) -> list[Route]:
    """The routes that pass every filter; each excluded one is appended to `excluded` as
    "filter: route (why)"."""
    params = request_parameters(request) if prefs.require_parameters else frozenset()
    out = []
    for r in routes:
        why = _why_not(r, prefs, params)
        if why is None:
            out.append(r)
        else:
            excluded.append(f"{why[0]}: {why[1]}")
    return out


def no_endpoints(excluded: list[str]) -> NoEndpoints:
    """OpenRouter's 404, with what each filter excluded."""
    kinds = {e.split(":", 1)[0] for e in excluded}
    if kinds <= {"data_collection", "zdr"}:
        head = "No endpoints found matching your data policy"
    elif kinds == {"require_parameters"}:
        head = "No endpoints found that can handle the requested parameters"
    elif kinds == {"quantizations"}:
        head = "No endpoints found matching your quantization filter"
    else:
        head = "No endpoints found matching your provider filters"
    return NoEndpoints(f"{head}. Excluded: {'; '.join(excluded)}.", param="provider")
