"""What a cascade pool decided before any call: the plan `tokenport.cascade` carries out.

`AutoRouting.route` makes one for an `auto` pool with `mode = "cascade"`: the trained chain
and strong model mapped to gateway models, the prompt router's predictions (the trust
models' inputs), the threshold, whether the cheap call is skipped, and which runtime
verifiers run. `Router.decide` adds each model's routes. It is routing's output, like a
route list: nothing in it has called anything yet.
"""

from __future__ import annotations

import msgspec

from tokenport.config import AutoPoolConfig
from tokenport.errors import ConfigError
from tokenport.routing.auto.cascade_meta import CascadeMeta
from tokenport.values import ChatRequest, Route


class CascadePlan(msgspec.Struct, kw_only=True):
    pool: str
    meta: CascadeMeta
    models: dict[str, str]  # router model -> gateway model
    quality: dict[str, float]  # the prompt router's predicted quality per router model
    prompt: str  # the text the verifiers read (the user's turns)
    threshold: float
    skip: bool
    verifiers: frozenset[str]
    logprob_floor: float
    code_time_limit_s: float
    sample_temperature: float
    router_version: str
    plan_ms: float = 0.0  # the planning's share of the cascade's own overhead (wall time)
    plan_cpu_ms: float = 0.0  # the same in this thread's CPU time (no preemption counted)
    routes: dict[str, list[Route]] = msgspec.field(default_factory=dict)  # by gateway model

    @property
    def chain(self) -> list[str]:
        return self.meta.chain

    @property
    def strong(self) -> str:
        return self.meta.strong

    @property
    def first(self) -> str:
        """The router model called first: the strong one where the cheap call is skipped."""
        return self.meta.strong if self.skip else self.meta.chain[0]

    def gateway(self, router_model: str) -> str:
        return self.models[router_model]

    def gateway_models(self) -> list[str]:
        return [self.models[m] for m in [*self.meta.chain, self.meta.strong]]

    def max_calls(self) -> int:
        """The most upstream calls the cascade can make: each chain model, a second sample
        (agreement, one-model chains), a self-check, the strong model."""
        extra = int("self_check" in self.verifiers)
        extra += int("agreement" in self.verifiers and len(self.meta.chain) == 1)
        return len(self.meta.chain) + extra + 1

    def reservation(self, request: ChatRequest) -> tuple[ChatRequest, list[Route]]:
        """What admission reserves for: every model the cascade may call (so a key's model
        list must allow them all), each call at the dearest route's worst case (`n` calls;
        a self-check's prompt holds an answer too, so one more)."""
        routes = [r for m in self.gateway_models() for r in self.routes.get(m, [])]
        calls = self.max_calls() + int("self_check" in self.verifiers)
        held = msgspec.structs.replace(
            request, models=self.gateway_models(), n=calls * (request.n or 1)
        )
        return held, routes


def threshold_of(pool: AutoPoolConfig, meta: CascadeMeta) -> float:
    if pool.threshold is None:
        return meta.threshold
    if isinstance(pool.threshold, str):
        return meta.operating[pool.threshold]
    return float(pool.threshold)


def check_pool(name: str, pool: AutoPoolConfig, meta: CascadeMeta | None) -> None:
    """A cascade pool needs a cascade in the artifact and every one of its models mapped."""
    if pool.mode != "cascade":
        return
    if meta is None:
        raise ConfigError(
            f'auto.pools.{name}: mode = "cascade" needs a router trained on a file with the '
            "models' answers (`response`); this artifact has no cascade"
        )
    missing = [m for m in [*meta.chain, meta.strong] if m not in pool.models]
    if missing:
        raise ConfigError(
            f"auto.pools.{name}.models: the cascade calls {', '.join(missing)}; map "
            "each to a gateway model"
        )
    if isinstance(pool.threshold, str) and pool.threshold not in meta.operating:
        raise ConfigError(f"auto.pools.{name}.threshold: the artifact has no '{pool.threshold}'")
