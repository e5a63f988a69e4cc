"""`model: "auto"` in the gateway: ask the trained router, then route like any other model.

The router (`routing/auto/`) predicts each pool model's quality for the prompt; expected
cost per call comes from the catalog price of the gateway model each router model maps to.
The request may carry `auto: {quality_floor, max_price}`; otherwise the pool's trade-off
decides. Recent decisions are remembered (bounded) so `POST /api/v1/feedback` can teach
the router from a generation id alone; each generation is scored at most once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.config import AutoPoolConfig, Settings
from tokenport.errors import BadRequest, ConfigError, NotFound
from tokenport.pricing import max_cost_usd
from tokenport.routing.auto.cascade_meta import skip as skip_cheap
from tokenport.routing.auto.decide import AutoRouter, Decision, Pool
from tokenport.routing.auto.feedback import DEFAULT_LR, FeedbackEvent, FeedbackLog, learn, record
from tokenport.routing.cascade_plan import CascadePlan, check_pool, threshold_of
from tokenport.tokens import TokenCounter, message_text
from tokenport.values import ChatRequest

_REMEMBER = 10_000


def replay(
    router: AutoRouter, log: FeedbackLog, lr: float = DEFAULT_LR, *, keyed_only: bool = False
) -> list[FeedbackEvent]:
    """Re-learn the logged events (with `keyed_only`, only those a key sent); returns the
    events replayed."""
    events = [e for e in log.read() if e.key_id is not None or not keyed_only]
    for event in events:
        if event.model in router.models:
            learn(router, event, lr)
    return events


def load_router(path: str | Path, feedback_log: str | Path | None = None) -> AutoRouter:
    """Load an artifact; replay a feedback log on top of it when one is given."""
    router = AutoRouter.load(path)
    if feedback_log is not None:
        replay(router, FeedbackLog(feedback_log))
    return router


class AutoOptions(msgspec.Struct, forbid_unknown_fields=True):
    quality_floor: float | None = None
    max_price: float | None = None


class AutoChoice(msgspec.Struct, frozen=True):
    requested: str
    model: str  # the gateway model it routed to (a cascade: the first it calls)
    decision: Decision
    # A cascade pool's plan; None: one model answers (route mode, or a request a cascade
    # cannot verify, `cascade_reason` says why).
    cascade: CascadePlan | None = None
    cascade_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        d = self.decision
        return {
            "requested": self.requested,
            "model": self.model,
            "router_model": d.model,
            "predicted_quality": d.predicted_quality,
            "expected_cost": d.expected_cost,
            "reason": d.reason,
            "router_version": d.router_version,
            **({"cascade_skipped": self.cascade_reason} if self.cascade_reason else {}),
        }

    def headers(self) -> dict[str, str]:
        d = self.decision
        return {
            "X-Tokenport-Auto-Model": self.model,
            "X-Tokenport-Auto-Quality": f"{d.predicted_quality:.4f}",
            "X-Tokenport-Auto-Cost": f"{d.expected_cost:.8f}",
        }


def _no_cascade(request: ChatRequest, opts: AutoOptions) -> str | None:
    """Why a cascade cannot serve this request (its verifiers judge one text answer), or None."""
    if request.tools:
        return "the request offers tools: an answer may be a tool call, which no verifier reads"
    if (request.n or 1) > 1:
        return "n > 1: a cascade verifies one answer"
    if opts.quality_floor is not None or opts.max_price is not None:
        return "auto.quality_floor / auto.max_price choose one model up front"
    return None


def is_auto(model: str) -> bool:
    return model == "auto" or model.startswith("auto:")


def prompt_of(request: ChatRequest) -> str:
    """What the router reads: the user's turns (the system prompt says little of difficulty)."""
    user = [message_text(m) for m in request.messages if m.role == "user"]
    return "\n".join(user) or message_text(request.messages[-1])


class AutoRouting:
    def __init__(
        self,
        router: AutoRouter,
        pools: dict[str, AutoPoolConfig],
        get_model: Callable[[str], ModelEntry | None],
        counter: TokenCounter,
        feedback: FeedbackLog | None,
        scored: set[str] | None = None,
    ) -> None:
        self.router, self.pools, self.counter, self.feedback_log = router, pools, counter, feedback
        self._scored: set[str] = scored or set()  # generation ids already scored
        self._prices: dict[str, dict[str, ModelEntry]] = {}
        for name, pool in pools.items():
            entries = {}
            for router_model, gateway_model in pool.models.items():
                entry = get_model(gateway_model)
                if entry is None:
                    raise ConfigError(
                        f"auto.pools.{name}.models: '{gateway_model}' is not a model in the catalog"
                    )
                if router_model not in router.models:
                    raise ConfigError(
                        f"auto.pools.{name}.models: the router was not trained on "
                        f"'{router_model}' (it knows {', '.join(router.models)})"
                    )
                entries[router_model] = entry
            self._prices[name] = entries
            check_pool(name, pool, router.artifact.meta.cascade)
        self._recent: OrderedDict[str, tuple[str, str]] = OrderedDict()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        get_model: Callable[[str], ModelEntry | None],
        counter: TokenCounter,
    ) -> AutoRouting | None:
        cfg = settings.auto
        if cfg.artifact is None:
            return None
        log = FeedbackLog(cfg.feedback_log or settings.data_dir / "router-feedback.jsonl")
        router = AutoRouter.load(cfg.artifact)
        # Where keys are required, events logged without one (anonymous posts, perhaps from
        # before feedback needed a key) are not replayed: they may be poison.
        events = replay(router, log, keyed_only=settings.require_keys)
        scored = {e.gen_id for e in events if e.gen_id is not None}
        return cls(router, cfg.pools, get_model, counter, log, scored)

    def route(self, request: ChatRequest) -> AutoChoice:
        """Pick the pool model and rewrite `request.model` to it."""
        name = request.model.partition(":")[2] or "default"
        pool = self.pools.get(name)
        if pool is None:
            raise BadRequest(
                f"No auto pool '{name}'. Pools: {', '.join(self.pools) or 'none'}.", param="model"
            )
        try:
            opts = msgspec.convert(request.extra.pop("auto", None) or {}, AutoOptions)
        except msgspec.ValidationError as exc:
            raise BadRequest(f"Invalid `auto` options: {exc}", param="auto") from exc
        t0, c0 = time.perf_counter(), time.thread_time()
        text = prompt_of(request)
        prompt_tokens = self.counter.rough_messages(request.messages)
        out = request.output_cap() or pool.expected_output_tokens
        prices = {
            m: max_cost_usd(prompt_tokens, out, e.pricing) for m, e in self._prices[name].items()
        }
        decision = self.router.decide(
            text,
            Pool(name, tuple(pool.models), pool.tradeoff, prices),
            opts.quality_floor,
            opts.max_price,
        )
        if pool.mode == "cascade":
            why = _no_cascade(request, opts)
            if why is None:
                plan = self._plan(name, pool, text, decision, t0, c0)
                requested, request.model = request.model, plan.gateway(plan.first)
                return AutoChoice(requested, request.model, decision, plan)
            requested, request.model = request.model, pool.models[decision.model]
            return AutoChoice(requested, request.model, decision, None, why)
        requested, request.model = request.model, pool.models[decision.model]
        return AutoChoice(requested, request.model, decision)

    def _plan(
        self,
        name: str,
        pool: AutoPoolConfig,
        text: str,
        decision: Decision,
        t0: float,
        c0: float,
    ) -> CascadePlan:
        meta = self.router.artifact.meta.cascade
        assert meta is not None  # checked at start (`check_pool`)
        threshold = threshold_of(pool, meta)
        quality = dict(decision.scores)
        return CascadePlan(
            pool=name,
            meta=meta,
            models=dict(pool.models),
            quality=quality,
            prompt=text,
            threshold=threshold,
            skip=skip_cheap(meta, quality, threshold),
            verifiers=frozenset(pool.verifiers),
            logprob_floor=pool.logprob_floor,
            code_time_limit_s=pool.code_time_limit_s,
            sample_temperature=pool.sample_temperature,
            router_version=decision.router_version,
            plan_ms=(time.perf_counter() - t0) * 1000.0,
            plan_cpu_ms=(time.thread_time() - c0) * 1000.0,
        )

    def remember(self, gen_id: str, request: ChatRequest, choice: AutoChoice) -> None:
        self._recent[gen_id] = (prompt_of(request), choice.decision.model)
        while len(self._recent) > _REMEMBER:
            self._recent.popitem(last=False)

    def answered(self, gen_id: str, router_model: str) -> None:
        """A cascade settled on `router_model`'s answer: feedback on the generation is about
        that model, not the one the prompt router first picked."""
        if gen_id in self._recent:
            self._recent[gen_id] = (self._recent[gen_id][0], router_model)

    def learn(
        self,
        gen_id: str | None,
        score: float,
        prompt: str | None = None,
        model: str | None = None,
        key_id: str | None = None,
    ) -> float:
        """Teach the router one outcome; returns the prediction error it corrected."""
        if not 0.0 <= score <= 1.0:
            raise BadRequest("`score` must be between 0 and 1.", param="score")
        if gen_id is not None and gen_id in self._scored:
            raise BadRequest(f"Generation '{gen_id}' has already been scored.", param="id")
        if prompt is None or model is None:
            if gen_id is None or gen_id not in self._recent:
                raise NotFound(
                    "No recent auto-routed generation with that id on this gateway; "
                    "send `prompt` and `model` with the score instead."
                )
            prompt, model = self._recent[gen_id]
        model = self._router_model(model)
        error = record(
            self.router, self.feedback_log, prompt, model, score, gen_id=gen_id, key_id=key_id
        )
        if gen_id is not None:
            self._scored.add(gen_id)
        return error

    def _router_model(self, model: str) -> str:
        if model in self.router.models:
            return model
        for pool in self.pools.values():
            for router_model, gateway_model in pool.models.items():
                if gateway_model == model:
                    return router_model
        raise BadRequest(f"'{model}' is not a model of any auto pool.", param="model")
