"""Everything a running gateway holds, built once from settings at start."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tokenport.api.admin import admin_key_from
from tokenport.api.drain import Drain
from tokenport.api.models import models_body
from tokenport.api.refusals import RefusalLog
from tokenport.api.response_store import ResponseStore, SqlResponseStore
from tokenport.cache.cache import ResponseCache
from tokenport.cache.policy import CachePolicy
from tokenport.cache.store import CacheStore, MemoryStore, RedisStore
from tokenport.catalog.store import Catalog
from tokenport.config import CacheConfig, DrainConfig, PluginsConfig, Settings
from tokenport.economics.settings import Economics, economics_of
from tokenport.gateway import Gateway
from tokenport.gateway.retry import RetryPolicy
from tokenport.ledger.writer import Ledger
from tokenport.plugins import Plugins
from tokenport.providers.registry import Registry, build_registry
from tokenport.routing.aliases import Aliases
from tokenport.routing.autoroute import AutoRouting
from tokenport.routing.health import Health
from tokenport.routing.router import Router
from tokenport.routing.speed import SpeedBook
from tokenport.routing.speed_share import SpeedShare
from tokenport.routing.sticky import MemorySticky, RedisSticky, Sticky, StickyStore
from tokenport.security.abuse.actions import ActionStore
from tokenport.security.abuse.guard import AbuseGuard
from tokenport.security.access import Access
from tokenport.security.admission import Admission
from tokenport.security.alerts import AlertSender
from tokenport.security.budget_store import BudgetStore
from tokenport.security.budgets import BudgetBook
from tokenport.security.guardrail_store import GuardrailStore
from tokenport.security.guardrails import GuardrailBook
from tokenport.security.keystore import KeyStore
from tokenport.security.limits import Limiter, MemoryLimiter, RedisLimiter
from tokenport.security.refresh import BookCache
from tokenport.telemetry import multiproc
from tokenport.telemetry.metrics import Metrics
from tokenport.telemetry.watch import Telemetry
from tokenport.tokens import TokenCounter


@dataclass(slots=True)
class State:
    settings: Settings
    catalog: Catalog
    registry: Registry
    gateway: Gateway
    ledger: Ledger
    admission: Admission
    auto: AutoRouting | None
    models_body: bytes
    started: float
    router: Router
    responses: ResponseStore
    embedding_catalog: Catalog
    admin_key: str | None
    access: Access  # who may read what (security/access.py)
    economics: Economics  # the cost model, with the config's overrides
    # Running in production (issue 15): metrics and traces, the response cache, draining.
    telemetry: Telemetry = field(default_factory=Telemetry)
    cache_policy: CachePolicy = field(default_factory=lambda: CachePolicy(CacheConfig()))
    drain: Drain = field(default_factory=lambda: Drain(DrainConfig()))
    plugins: Plugins = field(default_factory=lambda: Plugins(PluginsConfig()))
    refusals: RefusalLog | None = None  # refused requests' ledger records (api/refusals.py)


def retry_policy(settings: Settings) -> RetryPolicy:
    r = settings.resilience
    return RetryPolicy(
        max_attempts=r.max_attempts,
        backoff_base_s=r.backoff_base_s,
        backoff_max_s=r.backoff_max_s,
        max_retry_after_s=settings.max_retry_after_s,
        budget_ratio=r.budget_ratio,
        budget_min_per_s=r.budget_min_per_s,
        budget_burst=r.budget_burst,
        resume=r.resume,
        hedge_models=tuple(r.hedge_models),
        hedge_min_ms=r.hedge_min_ms,
    )


def build_state(
    settings: Settings,
    env: Mapping[str, str],
    local_base_url: str | None,
    catalog: Catalog | None = None,
) -> State:
    registry = build_registry(settings, env, local_base_url)
    admin_key = admin_key_from(env, settings.admin_key_env)
    catalog = (catalog or Catalog.load()).with_entries(registry.extra_entries)
    embedding_catalog = Catalog.load_embeddings().with_entries(registry.extra_embeddings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(
        settings.ledger_url(),
        settings.data_dir / "journal" / f"w{os.getpid()}",
        flush_interval=settings.ledger_flush_interval_s,
        sync=settings.ledger_sync,
    )
    counter = TokenCounter()
    limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
    keys = KeyStore(settings.ledger_url())
    admission = Admission(
        keys,
        limiter,
        counter,
        require_keys=settings.require_keys,
        hold_ttl_s=settings.key_hold_ttl_s,
        abuse=AbuseGuard(ActionStore(settings.ledger_url()), settings.abuse),
        budgets=BookCache(
            lambda: BudgetBook(BudgetStore(keys).all_budgets()),
            BudgetBook(),
            settings.company.budget_refresh_s,
            "budgets",
        ),
        guardrails=BookCache(
            GuardrailStore(keys).book,
            GuardrailBook(),
            settings.company.budget_refresh_s,
            "guardrails",
        ),
        alerts=AlertSender(
            keys, settings.company, env.get(settings.company.alert_webhook_secret_env)
        ),
    )
    speed = SpeedBook(settings.routing.speed_window, sharing=bool(settings.redis_url))
    health = Health(settings.breaker_failures, settings.breaker_cooldown_s, speed=speed)
    gateway = Gateway(
        providers=registry.providers,
        health=health,
        ledger=ledger,
        counter=counter,
        attempt_timeout_s=settings.attempt_timeout_s,
        stream_idle_timeout_s=settings.stream_idle_timeout_s,
        request_timeout_s=settings.request_timeout_s,
        energy=registry.energy,
        cache=ResponseCache(_cache_store(settings), settings.cache),
        retry=retry_policy(settings),
    )
    auto = AutoRouting.from_settings(settings, catalog.get, counter)
    router = Router(
        resolve=catalog.resolve,
        suggest=catalog.suggest,
        states=registry.states,
        health=health,
        aliases=Aliases(settings.aliases),
        auto=auto,
        interactive_max_rtt_ms=settings.interactive_max_rtt_ms,
        tolerant_apps=tuple(a.lower() for a in settings.tolerant_apps),
        resolve_embedding=embedding_catalog.resolve,
        suggest_embedding=embedding_catalog.suggest,
        sticky=_sticky(settings),
        speed_share=(
            SpeedShare(settings.redis_url, speed, settings.routing.speed_sync_s)
            if settings.redis_url
            else None
        ),
    )
    return State(
        settings,
        catalog,
        registry,
        gateway,
        ledger,
        admission,
        auto,
        models_body(catalog, registry),
        time.monotonic(),
        router,
        SqlResponseStore(settings.ledger_url()),
        embedding_catalog,
        admin_key,
        Access(
            lambda: admission,
            admin_key,
            require_keys=settings.require_keys,
            public_rankings=settings.public_rankings,
        ),
        economics_of(settings),
        build_telemetry(settings),
        CachePolicy(settings.cache),
        Drain(settings.drain),
        Plugins(settings.plugins),
        RefusalLog(
            ledger,
            admission.cached_key_id,
            settings.trusted_proxies,
            settings.refusal_records_per_s,
        ),
    )


def _sticky(settings: Settings) -> Sticky | None:
    if not settings.routing.sticky:
        return None
    store: StickyStore = (
        RedisSticky(settings.redis_url)
        if settings.redis_url
        else MemorySticky(settings.routing.sticky_max_entries)
    )
    return Sticky(store, settings.routing.sticky_ttl_s)


def _cache_store(settings: Settings) -> CacheStore:
    if settings.redis_url:
        return RedisStore(settings.redis_url)
    return MemoryStore(settings.cache.max_entries)


def build_telemetry(settings: Settings) -> Telemetry:
    metrics = None
    if settings.metrics.enabled:
        metrics = Metrics(
            key_labels=settings.metrics.key_labels,
            multiprocess=multiproc.directory() is not None,
        )
    tracer = None
    if settings.tracing.enabled:
        from tokenport.telemetry.tracing import Tracer

        tracer = Tracer(settings.tracing)
    return Telemetry(metrics, tracer)
