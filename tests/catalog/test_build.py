"""The builder: the shipped catalog is a faithful, deterministic derivation of the snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenport.catalog import build
from tokenport.catalog.build import (
    DEFAULT_PROVIDERS,
    LICENSE,
    build_catalog,
    load_snapshot,
    render_catalog,
    slug_of,
    write_catalog,
)
from tokenport.catalog.store import Catalog, default_catalog_path
from tokenport.errors import ConfigError

_SHARED_CANDIDATES = (Path(__file__).parents[2].parent / "shared", Path("/work/shared"))


@pytest.fixture(scope="module")
def snapshot_path() -> Path:
    for shared in _SHARED_CANDIDATES:
        path = shared / "data" / "catalog" / "models_dev.json"
        if path.is_file():
            return path
    pytest.skip(
        f"models.dev snapshot not found under any of {[str(p) for p in _SHARED_CANDIDATES]}"
    )


@pytest.fixture(scope="module")
def built(snapshot_path: Path) -> dict[str, Any]:
    return build_catalog(snapshot_path, DEFAULT_PROVIDERS)


def _by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in doc["models"]}


def test_shipped_catalog_equals_fresh_build(built: dict[str, Any]) -> None:
    shipped = default_catalog_path().read_text(encoding="utf-8")
    assert shipped == render_catalog(built), "run `tokenport catalog-rebuild --from <snapshot>`"


def test_build_is_deterministic_and_sorted(snapshot_path: Path, built: dict[str, Any]) -> None:
    again = build_catalog(snapshot_path, list(reversed(DEFAULT_PROVIDERS)))
    assert render_catalog(again) == render_catalog(built)
    ids = [m["id"] for m in built["models"]]
    assert ids == sorted(ids)
    assert len(ids) == len({i.lower() for i in ids})


def test_attribution_is_kept(snapshot_path: Path, built: dict[str, Any]) -> None:
    raw = json.loads(snapshot_path.read_bytes())
    attribution = built["attribution"]
    assert attribution["license"] == LICENSE == "MIT License, Copyright (c) 2025 models.dev"
    assert attribution["source"] == raw["source"]
    assert attribution["commit"] == built["generated_from_commit"] == raw["commit"]
    assert build.__doc__ is not None and LICENSE in build.__doc__


def test_deepseek_chat_price(built: dict[str, Any]) -> None:
    entry = _by_id(built)["deepseek/deepseek-chat"]
    assert entry["pricing"] == {"input": 0.14, "output": 0.28, "cache_read": 0.0028}
    assert (entry["author"], entry["country"]) == ("deepseek", "CN")


def test_every_requested_provider_with_models_is_present(
    snapshot_path: Path, built: dict[str, Any]
) -> None:
    raw = json.loads(snapshot_path.read_bytes())["providers"]
    expected = {p for p in DEFAULT_PROVIDERS if raw.get(p, {}).get("models")}
    assert {m["provider"] for m in built["models"]} == expected


def test_non_chat_and_unpriced_models_are_left_out(built: dict[str, Any]) -> None:
    ids = set(_by_id(built))
    for gone in (
        "openai/text-embedding-3-small",  # embedding: output price 0
        "mistral/mistral-embed",
        "groq/whisper-large-v3",  # speech in, no price
        "google/gemini-2.5-flash-preview-tts",  # audio out
        "openrouter/openrouter/auto",  # no price
        "xai/grok-imagine-video",
        "anthropic/claude-3-haiku-20240307",  # deprecated
    ):
        assert gone not in ids
    assert "openrouter/meta-llama/llama-3.3-70b-instruct:free" in ids  # free chat stays
    assert set(built["excluded"]) <= {"deprecated", "no_price", "not_chat"}


def test_stub_inherits_description_but_not_price(built: dict[str, Any]) -> None:
    # models.dev lists openrouter's Kimi K2.5 as a base_model stub with its own price.
    entry = _by_id(built)["openrouter/moonshotai/kimi-k2.5"]
    assert entry["name"] == "Kimi K2.5"
    assert entry["pricing"]["input"] == 0.375
    assert entry["context_length"] == 256000  # the stub's own limit wins over the base's


@pytest.mark.parametrize(
    ("upstream_id", "provider", "slug"),
    [
        ("moonshotai/kimi-k2.5", "openrouter", "kimi-k2.5"),
        ("kimi-k2.5", "moonshotai", "kimi-k2.5"),
        ("moonshotai/Kimi-K2.5", "togetherai", "kimi-k2.5"),
        ("meta-llama/llama-3.3-70b-instruct:free", "openrouter", "llama-3.3-70b-instruct"),
        ("accounts/fireworks/models/kimi-k2p6", "fireworks-ai", "kimi-k2.6"),
        ("gpt-4p1", "openai", "gpt-4p1"),  # the "p" rewrite is Fireworks' convention only
    ],
)
def test_slug(upstream_id: str, provider: str, slug: str) -> None:
    assert slug_of(upstream_id, provider) == slug


# --- a tiny synthetic snapshot pins each rule down exactly ---------------------------------


def _model(**overrides: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": "Chat",
        "family": "gpt",
        "tool_call": True,
        "reasoning": False,
        "open_weights": False,
        "cost": {"input": 1.0, "output": 2.0},
        "limit": {"context": 1000, "output": 100},
        "modalities": {"input": ["text"], "output": ["text"]},
    }
    model.update(overrides)
    return model


TINY_PROVIDERS: dict[str, Any] = {
    "openai": {
        "name": "OpenAI",
        "models": {
            "gpt-x": _model(name="GPT X", cost={"input": 1, "output": 4, "cached_input": 0.1}),
            "embed-x": _model(cost={"input": 0.1, "output": 0}),
            "tts-x": _model(modalities={"input": ["text"], "output": ["audio"]}),
            "old-x": _model(status="deprecated"),
            "unpriced-x": _model(cost=None),
        },
    },
    "openrouter": {
        "name": "OpenRouter",
        "models": {
            "openai/gpt-x": {"base_model": "openai/gpt-x", "cost": {"input": 0.5, "output": 1}},
            "openai/gpt-x:free": _model(name="GPT X (free)", cost={"input": 0, "output": 0}),
        },
    },
    "elsewhere": {"name": "Not built", "models": {"gpt-y": _model()}},
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json"
    snapshot = {"source": "test", "commit": "abc", "providers": TINY_PROVIDERS}
    path.write_text(json.dumps(snapshot))
    return path


def test_rules_on_a_tiny_snapshot(tiny: Path) -> None:
    doc = build_catalog(tiny, ["openai", "openrouter", "missing"])
    models = _by_id(doc)
    assert sorted(models) == [
        "openai/gpt-x",
        "openrouter/openai/gpt-x",
        "openrouter/openai/gpt-x:free",
    ]
    assert doc["excluded"] == {"deprecated": 1, "no_price": 1, "not_chat": 2}
    assert models["openai/gpt-x"]["pricing"] == {"input": 1.0, "output": 4.0, "cache_read": 0.1}
    stub = models["openrouter/openai/gpt-x"]
    assert stub["name"] == "GPT X" and stub["context_length"] == 1000
    assert stub["pricing"] == {"input": 0.5, "output": 1.0}
    assert stub["slug"] == models["openrouter/openai/gpt-x:free"]["slug"] == "gpt-x"


def test_models_dev_api_json_and_checkout_dir(tmp_path: Path) -> None:
    checkout = tmp_path / "models.dev"
    (checkout / ".git" / "refs" / "heads").mkdir(parents=True)
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/dev\n")
    (checkout / ".git" / "refs" / "heads" / "dev").write_text("f00d\n")
    (checkout / "api.json").write_text(json.dumps(TINY_PROVIDERS))
    snapshot = load_snapshot(checkout)
    assert snapshot.commit == "f00d"
    assert set(snapshot.providers) == set(TINY_PROVIDERS)
    doc = build_catalog(checkout / "api.json", ["openai"])
    assert doc["generated_from_commit"] == "unknown"
    assert [m["id"] for m in doc["models"]] == ["openai/gpt-x"]


def test_checkout_without_api_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"without api\.json"):
        load_snapshot(tmp_path)


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"a": 1}'])
def test_bad_snapshot_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="snapshot"):
        load_snapshot(path)


def test_write_catalog_round_trips(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "catalog.json"
    doc = write_catalog(tiny, out, ["openai", "openrouter"])
    catalog = Catalog.load(out)
    assert [e.id for e in catalog.entries()] == [m["id"] for m in doc["models"]]
    assert catalog.attribution["license"] == LICENSE
    assert not list(out.parent.glob("*.tmp"))
