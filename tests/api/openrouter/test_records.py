"""Generation, key and credit records in OpenRouter's shapes: types as OpenRouter types them,
null (never missing) where tokenport cannot know."""

from __future__ import annotations

from datetime import datetime

from tokenport.api.openrouter.records import (
    Budget,
    KeyUsage,
    credits_json,
    generation_json,
    iso,
    key_json,
    key_record_json,
)
from tokenport.ledger.record import LedgerRecord
from tokenport.security.keys import ApiKey
from tokenport.values import Attempt, PluginUse


def key(limit_nano: int | None = 5_000_000_000, usage_nano: int = 1_000_000_000) -> ApiKey:
    return ApiKey(
        id="key_1",
        name="ci",
        prefix="tp-abc",
        created_at=1_790_000_000.5,
        credit_limit_nano=limit_nano,
        usage_nano=usage_nano,
    )


def test_iso_is_utc_with_offset() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000+00:00"
    assert datetime.fromisoformat(str(iso(1_790_000_000.25))).timestamp() == 1_790_000_000.25
    assert iso(None) is None


def test_generation_has_openrouters_fields_and_types() -> None:
    record = LedgerRecord(
        id="gen-1",
        ts=1_790_000_000.0,
        model_requested="kimi",
        status="ok",
        model_served="moonshotai/kimi-k2.5",
        provider="moonshotai",
        prompt_tokens=10,
        completion_tokens=5,
        cost=0.25,
        latency_ms=800.0,
        ttft_ms=300.0,
        door="responses",
        attempts=[Attempt("moonshotai", "kimi-k2.5", "ok", 790.0)],
        plugins=[PluginUse("response-healing", healed=True)],
    )
    data = generation_json(record)["data"]
    assert data["created_at"] == "2026-09-21T14:13:20.000+00:00"
    assert data["api_type"] == "completions" and data["data_region"] == "global"
    assert data["usage"] == data["total_cost"] == 0.25 and data["is_byok"] is False
    assert data["generation_time"] == 500.0 and data["cancelled"] is False
    for unknown in ("cache_discount", "app_id", "upstream_id", "moderation_latency"):
        assert unknown in data and data[unknown] is None
    assert data["provider_responses"] == [
        {
            "provider_name": "moonshotai",
            "model_permaslug": "kimi-k2.5",
            "latency": 790.0,
            "status": 200,
            "is_byok": False,
        }
    ]
    assert data["plugins"] == [PluginUse("response-healing", healed=True)]


def test_embeddings_are_their_own_api_type() -> None:
    record = LedgerRecord(id="g", ts=0.0, model_requested="e", status="ok", door="embeddings")
    assert generation_json(record)["data"]["api_type"] == "embeddings"


def test_key_carries_spend_windows_and_its_limit_as_a_budget() -> None:
    data = key_json(key(), KeyUsage(daily=0.5, weekly=0.75, monthly=1.0))
    assert (data["usage_daily"], data["usage_weekly"], data["usage_monthly"]) == (0.5, 0.75, 1.0)
    assert data["limit"] == 5.0 and data["limit_remaining"] == 4.0 and data["usage"] == 1.0
    assert data["byok_usage"] == 0.0 and data["allowed_data_regions"] == []
    assert data["limit_reset"] is None and data["workspace_id"] is None
    limit = {
        "scope": "key_limit",
        "limit_usd": 5.0,
        "spend_usd": 1.0,
        "remaining_usd": 4.0,
        "reset_interval": None,
        "resets_at": None,
        "budget_id": None,
        "guardrail_id": None,
        "include_byok": False,
    }
    assert data["budgets"] == [limit] and data["effective_budget"] == limit
    assert data["rate_limit"]["requests"] == -1  # no per-key limit


def test_effective_budget_is_the_layer_with_least_left() -> None:
    monthly = Budget("workspace", 2.0, 1.9, reset_interval="monthly", budget_id="b1")
    data = key_json(key(), KeyUsage(), [Budget("key_limit", 5.0, 1.0), monthly])
    assert data["effective_budget"]["budget_id"] == "b1"
    assert abs(data["effective_budget"]["remaining_usd"] - 0.1) < 1e-9


def test_unlimited_key_has_no_budget_and_credit_equal_to_spend() -> None:
    k = key(limit_nano=None)
    data = key_json(k, KeyUsage())
    assert data["budgets"] == [] and data["effective_budget"] is None and data["limit"] is None
    assert credits_json(k)["data"] == {"total_credits": 1.0, "total_usage": 1.0, "unlimited": True}
    assert credits_json(key())["data"]["total_credits"] == 5.0


def test_key_record_for_key_management() -> None:
    data = key_record_json(key(), KeyUsage(monthly=2.0))
    assert data["hash"] == "key_1" and data["disabled"] is False
    assert data["created_at"] == iso(1_790_000_000.5) and data["usage_monthly"] == 2.0
    assert data["last_used_at"] is None and isinstance(data["workspace_id"], str)
