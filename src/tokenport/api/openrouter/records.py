"""Generations, keys and credit in OpenRouter's shapes (`GET /api/v1/generation`,
`/api/v1/key`, `/api/v1/credits`), with tokenport's own fields beside them.

Times are what OpenRouter types them: ISO 8601 strings (UTC) here. A field tokenport does
not know is null where OpenRouter allows null; `byok_*` are 0 because tokenport has no
bring-your-own-key billing (every call is paid by the gateway's configured keys).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from tokenport.ledger.record import LedgerRecord
from tokenport.security.keys import ApiKey
from tokenport.values import Attempt, Door

# Which OpenRouter `api_type` each door's requests are.
_API_TYPE: dict[str, str] = {"embeddings": "embeddings"}
_DEFAULT_API_TYPE = "completions"


def iso(ts: float | None) -> str | None:
    """Unix seconds as OpenRouter's ISO 8601 timestamp (UTC, with offset)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def api_type(door: Door | str) -> str:
    return _API_TYPE.get(door, _DEFAULT_API_TYPE)


def generation_json(r: LedgerRecord) -> dict[str, Any]:
    """One ledger record as OpenRouter's `GenerationResponse` (plus tokenport's fields)."""
    cached = r.cached_tokens
    return {
        "data": {
            "id": r.id,
            "created_at": iso(r.ts),
            "model": r.model_served or r.model_requested,
            "model_requested": r.model_requested,
            "provider_name": r.provider,
            "origin": r.app or "",
            "app_id": None,
            "http_referer": None,
            "external_user": None,
            "user_agent": None,
            "api_type": api_type(r.door),
            "router": "auto" if r.model_requested.startswith("auto") else None,
            "is_byok": False,
            "data_region": "global",  # tokenport routes by provider, not by data region
            "workspace_id": None,
            "preset_id": None,
            "session_id": None,
            "request_id": None,
            "response_cache_source_id": None,
            "service_tier": None,
            "upstream_id": None,
            "status": r.status,
            "error_class": r.error_class,
            "http_status": r.http_status,
            "cancelled": r.error_class == "ClientDisconnected",
            "streamed": r.stream,
            "finish_reason": r.finish_reason,
            "native_finish_reason": r.finish_reason,
            "tokens_prompt": r.prompt_tokens,
            "tokens_completion": r.completion_tokens,
            "native_tokens_prompt": r.prompt_tokens,
            "native_tokens_completion": r.completion_tokens,
            "native_tokens_cached": cached,
            "native_tokens_cache_write": r.cache_write_tokens,
            "native_tokens_reasoning": r.reasoning_tokens,
            "native_tokens_completion_images": None,
            "num_media_prompt": None,
            "num_media_completion": None,
            "num_input_audio_prompt": None,
            "num_search_results": None,
            "num_fetches": None,
            "web_search_engine": None,
            "usage_estimated": r.usage_estimated,
            "usage": r.cost,
            "total_cost": r.cost,
            "upstream_inference_cost": r.upstream_cost,
            "upstream_cost": r.upstream_cost,
            "cache_discount": None,
            "latency": r.latency_ms,
            "generation_time": _generation_time(r),
            "moderation_latency": None,
            "time_to_first_token": r.ttft_ms,
            "door": r.door,
            "cache_hit": r.cache_hit,
            "cache_saved": r.cost_saved,
            "app": r.app,
            "region": r.region,
            "energy_wh": r.energy_wh,
            "energy_cost": r.energy_cost,
            "provider_responses": [_provider_response(a) for a in r.attempts],
            "attempts": [msgspec.structs.asdict(a) for a in r.attempts],
            "plugins": r.plugins,  # what the request's plugins did (healed, pages, cost)
            # A stream cut mid-answer and continued (docs/resilience.md).
            "resumed": any(a.kind == "resume" for a in r.attempts),
        }
    }


def _generation_time(r: LedgerRecord) -> float | None:
    """Milliseconds from the first token to the last, when a first token was seen."""
    if r.ttft_ms is None:
        return None
    return max(0.0, r.latency_ms - r.ttft_ms)


_OK = {"ok": 200}  # an answered attempt records no status of its own


def _provider_response(a: Attempt) -> dict[str, Any]:
    return {
        "provider_name": a.provider,
        "model_permaslug": a.model,
        "latency": a.latency_ms,
        "status": a.http_status if a.http_status is not None else _OK.get(a.status),
        "is_byok": False,
    }


class KeyUsage(msgspec.Struct, frozen=True):
    """A key's spend (USD) over the current UTC day, week (from Monday) and month."""

    daily: float = 0.0
    weekly: float = 0.0
    monthly: float = 0.0


class Budget(msgspec.Struct, frozen=True):
    """One budget layer over a key, as OpenRouter's `KeyBudget` (USD). tokenport's own is the
    key's credit limit (`key_limit`, lifetime); workspace and member budgets add theirs."""

    scope: str
    limit_usd: float
    spend_usd: float
    reset_interval: str | None = None  # "daily" | "weekly" | "monthly"; None: lifetime
    resets_at: str | None = None  # ISO 8601, when the window rolls over
    budget_id: str | None = None
    guardrail_id: str | None = None
    include_byok: bool = False

    def json(self) -> dict[str, Any]:
        out = msgspec.structs.asdict(self)
        out["remaining_usd"] = self.limit_usd - self.spend_usd
        return out


def key_budgets(k: ApiKey) -> list[Budget]:
    if k.limit_usd is None:
        return []
    return [Budget("key_limit", k.limit_usd, k.usage_usd)]


def key_json(k: ApiKey, spent: KeyUsage, budgets: list[Budget] | None = None) -> dict[str, Any]:
    """The calling key as OpenRouter's `GET /api/v1/key` data. `budgets`: every layer that
    applies to the key (the key's own limit when not given); the effective one is the layer
    with the least left."""
    layers = key_budgets(k) if budgets is None else budgets
    effective = min(layers, key=lambda b: b.limit_usd - b.spend_usd) if layers else None
    return {
        "label": k.name,
        "name": k.name,
        "limit": k.limit_usd,
        "limit_remaining": k.remaining_usd,
        "limit_reset": None,  # tokenport's credit never resets by itself
        "include_byok_in_limit": False,
        "usage": k.usage_usd,
        "usage_daily": spent.daily,
        "usage_weekly": spent.weekly,
        "usage_monthly": spent.monthly,
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "is_free_tier": False,
        "is_management_key": False,
        "is_provisioning_key": False,
        "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
        "allowed_data_regions": [],
        "budgets": [b.json() for b in layers],
        "effective_budget": effective.json() if effective is not None else None,
        "creator_user_id": None,
        "organization_id": None,
        "workspace_id": None,
        "rate_limit": {
            "requests": k.rpm if k.rpm is not None else -1,  # -1: no limit, as OpenRouter says
            "interval": "1m",
            "note": "tokenport's per-key limit; -1 means none",
            "tokens": k.tpm,
        },
        "expires_at": iso(k.expires_at),
    }


def credits_json(k: ApiKey) -> dict[str, Any]:
    """`GET /api/v1/credits` for the calling key: the credit granted and what it spent.
    A key without a limit is granted what it spends (`unlimited` says so)."""
    usage = k.usage_usd
    limit = k.limit_usd
    return {
        "data": {
            "total_credits": limit if limit is not None else usage,
            "total_usage": usage,
            "unlimited": limit is None,
        }
    }


def key_record_json(k: ApiKey, spent: KeyUsage) -> dict[str, Any]:
    """A key as OpenRouter's key-management API lists it (`GET /api/v1/keys`, the record
    behind `/keys/{hash}`): `hash` is tokenport's key id."""
    return {
        "hash": k.id,
        "name": k.name,
        "label": k.name,
        "disabled": k.revoked_at is not None,
        "created_at": iso(k.created_at),
        "updated_at": None,
        "last_used_at": None,
        "expires_at": iso(k.expires_at),
        "limit": k.limit_usd,
        "limit_remaining": k.remaining_usd,
        "limit_reset": None,
        "include_byok_in_limit": False,
        "usage": k.usage_usd,
        "usage_daily": spent.daily,
        "usage_weekly": spent.weekly,
        "usage_monthly": spent.monthly,
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "creator_user_id": None,
        "external_user": None,
        "workspace_id": "",  # a required string at OpenRouter; tokenport has no workspaces yet
    }
