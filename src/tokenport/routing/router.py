"""Routing's one entry point: from a request to the routes to try, and why.

aliases (names an agent asks for -> real models) -> `model: auto` (the trained router picks
a pool model) -> the latency budget (interactive work stays near, tolerant work may go far)
-> `candidates.plan` (catalog, providers, preferences, health). The API edge calls
`decide` once per request; admission reserves against the routes it returns and the gateway
tries them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tokenport.catalog.model import ModelEntry
from tokenport.errors import BadRequest
from tokenport.providers.base import ProviderState
from tokenport.routing.aliases import Aliases
from tokenport.routing.autoroute import AutoChoice, AutoRouting, is_auto
from tokenport.routing.candidates import plan
from tokenport.routing.health import Health
from tokenport.values import ChatRequest, Route


@dataclass(slots=True)
class Decision:
    routes: list[Route]
    auto: AutoChoice | None = None
    requested: str | None = None  # what the client asked for, when routing rewrote it


def _none(name: str) -> list[ModelEntry]:
    return []


def _no_suggestions(name: str) -> list[str]:
    return []


@dataclass
class Router:
    resolve: Callable[[str], list[ModelEntry]]
    suggest: Callable[[str], list[str]]
    states: Mapping[str, ProviderState]
    health: Health
    aliases: Aliases = field(default_factory=lambda: Aliases({}))
    auto: AutoRouting | None = None
    interactive_max_rtt_ms: float | None = None
    tolerant_apps: tuple[str, ...] = ()
    # The embedding models' catalog (chat and embedding routes never mix).
    resolve_embedding: Callable[[str], list[ModelEntry]] = _none
    suggest_embedding: Callable[[str], list[str]] = _no_suggestions

    def latency_budget(self, request: ChatRequest, app: str | None) -> float | None:
        """Round-trip budget: interactive work stays near; tolerant work may go far."""
        prefs = request.provider
        if prefs is not None and prefs.max_rtt_ms is not None:
            return prefs.max_rtt_ms
        if prefs is not None and prefs.latency == "tolerant":
            return None
        if app and any(t in app.lower() for t in self.tolerant_apps):
            return None
        return self.interactive_max_rtt_ms

    def decide(self, request: ChatRequest, app: str | None, gen_id: str) -> Decision:
        """The routes for `request`, rewriting its model where an alias or `auto` says so."""
        asked = request.model
        self.aliases.apply(request)
        choice = self._auto(request, gen_id) if is_auto(request.model) else None
        budget = self.latency_budget(request, app)
        routes = plan(request, self.resolve, self.suggest, self.states, self.health, budget)
        return Decision(routes, choice, asked if request.model != asked else None)

    def decide_embedding(self, routing: ChatRequest, app: str | None) -> Decision:
        asked = routing.model
        self.aliases.apply(routing)
        budget = self.latency_budget(routing, app)
        routes = plan(
            routing,
            self.resolve_embedding,
            self.suggest_embedding,
            self.states,
            self.health,
            budget,
        )
        return Decision(routes, None, asked if routing.model != asked else None)

    def _auto(self, request: ChatRequest, gen_id: str) -> AutoChoice:
        if self.auto is None:
            raise BadRequest(
                "`model: auto` needs a trained router: run `tokenport router train --data "
                "FILE --out router.npz`, then set [auto] artifact and [auto.pools.default] "
                "in the config.",
                param="model",
            )
        choice = self.auto.route(request)
        self.auto.remember(gen_id, request, choice)
        return choice
