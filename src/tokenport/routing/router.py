"""Routing's one entry point: from a request to the routes to try, and why.

aliases (names an agent asks for -> real models) -> `model: auto` (the trained router picks
a pool model) -> the latency budget (interactive work stays near, tolerant work may go far)
-> `candidates.plan` (catalog, providers, preferences, health). The API edge calls
`decide` once per request; admission reserves against the routes it returns and the gateway
tries them in order. Then, where sticky routing is on, `stick` moves the conversation's
cached route first (`routing.sticky`; async, because the pins may live in Redis).

`speed` / `speeds` are the measured figures (`routing.speed.RouteSpeed`) that the endpoints
API and the dashboard show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.errors import BadRequest
from tokenport.providers.base import ProviderState
from tokenport.routing.aliases import Aliases
from tokenport.routing.autoroute import AutoChoice, AutoRouting, is_auto
from tokenport.routing.candidates import plan
from tokenport.routing.health import Health
from tokenport.routing.speed import RouteSpeed
from tokenport.routing.speed_share import SpeedShare
from tokenport.routing.sticky import Pin, Sticky
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
    sticky: Sticky | None = None  # sticky routing for prompt caches (None: off)
    speed_share: SpeedShare | None = None  # route speed shared through Redis

    async def stick(
        self, request: ChatRequest, key_id: str | None, decision: Decision
    ) -> Pin | None:
        """Sticky routing: the conversation's cached route first. The returned pin is told
        (`Pin.served`) which route answered, at settlement."""
        if self.sticky is None or decision.auto is not None:
            return None
        return await self.sticky.pin(request, key_id, decision.routes, self.health.available)

    def speed(self, route_key: str) -> RouteSpeed | None:
        """A route's measured speed (`model_id`, e.g. "groq/llama-3.3-70b"), None if unmeasured."""
        return self.health.speed.speed(route_key)

    def speeds(self) -> dict[str, RouteSpeed]:
        return self.health.speed.speeds()

    def start(self) -> None:
        if self.speed_share is not None:
            self.speed_share.start()

    async def aclose(self) -> None:
        if self.speed_share is not None:
            await self.speed_share.aclose()
        if self.sticky is not None:
            await self.sticky.store.aclose()

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
        if choice is not None and choice.cascade is not None:
            # Every model a cascade may call gets its routes now, as a single model's do;
            # the time counts in the cascade's own overhead.
            t0, c0 = time.perf_counter(), time.thread_time()
            for model in choice.cascade.gateway_models():
                one = msgspec.structs.replace(request, model=model)
                choice.cascade.routes[model] = plan(
                    one, self.resolve, self.suggest, self.states, self.health, budget
                )
            choice.cascade.plan_ms += (time.perf_counter() - t0) * 1000.0
            choice.cascade.plan_cpu_ms += (time.thread_time() - c0) * 1000.0
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
