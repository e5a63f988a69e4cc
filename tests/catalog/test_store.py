"""The in-memory catalog: lookups, resolution of request model names, suggestions, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.catalog import Catalog, ModelEntry
from tokenport.values import Pricing


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


def _entry(model_id: str, price: float = 1.0, author: str = "moonshotai") -> ModelEntry:
    provider, _, upstream = model_id.partition("/")
    return ModelEntry(
        id=model_id,
        provider=provider,
        upstream_id=upstream,
        slug=upstream.rsplit("/", 1)[-1].split(":")[0].lower(),
        name=upstream,
        author=author,
        country="CN",
        pricing=Pricing(input=price, output=price),
    )


@pytest.fixture
def small() -> Catalog:
    return Catalog(
        [
            _entry("moonshotai/kimi-k2.5", 3.0),
            _entry("openrouter/moonshotai/kimi-k2.5", 2.0),
            _entry("openrouter/moonshotai/kimi-k2.5:free", 0.0),
            _entry("togetherai/moonshotai/Kimi-K2.5", 2.0),
            _entry("groq/openai/gpt-oss-120b", 0.5, author="openai"),
            _entry("deepseek/deepseek-chat", 0.2, author="deepseek"),
        ]
    )


def test_load_shipped(shipped: Catalog) -> None:
    assert len(shipped) > 500
    assert {"deepseek", "moonshotai", "openai", "anthropic", "openrouter"} <= set(
        shipped.providers()
    )
    assert shipped.attribution["license"] == "MIT License, Copyright (c) 2025 models.dev"
    assert shipped.entries() == sorted(shipped.entries(), key=lambda e: e.id)


def test_load_is_not_shared(shipped: Catalog) -> None:
    assert Catalog.load() is not shipped


def test_get_is_exact_and_case_insensitive(shipped: Catalog) -> None:
    entry = shipped.get("DeepSeek/DeepSeek-Chat")
    assert entry is not None and entry.id == "deepseek/deepseek-chat"
    assert entry.pricing == Pricing(input=0.14, output=0.28, cache_read=0.0028)
    assert shipped.get("deepseek-chat") is None
    assert "deepseek/deepseek-chat" in shipped


def test_resolve_slug_returns_every_provider_cheapest_first(shipped: Catalog) -> None:
    routes = shipped.resolve("kimi-k2.5")
    providers = {e.provider for e in routes}
    assert {"moonshotai", "openrouter"} <= providers and len(providers) >= 3
    assert {e.slug for e in routes} == {"kimi-k2.5"}
    prices = [e.pricing.input + e.pricing.output for e in routes]
    assert prices == sorted(prices)


def test_resolve_openrouter_style_author_slug(shipped: Catalog) -> None:
    assert {e.id for e in shipped.resolve("moonshotai/kimi-k2.5")} == {
        e.id for e in shipped.resolve("kimi-k2.5") if e.author == "moonshotai"
    }
    chat = [e.id for e in shipped.resolve("deepseek/deepseek-chat")]
    assert chat[0] == "deepseek/deepseek-chat" and "openrouter/deepseek/deepseek-chat" in chat
    # Org aliases are authors too: x-ai is xAI, Qwen is Alibaba.
    assert {e.provider for e in shipped.resolve("x-ai/grok-4.3")} == {"xai", "openrouter"}
    assert len(shipped.resolve("Qwen/Qwen3.5-397B-A17B")) >= 3


def test_resolve_pinned_route(shipped: Catalog) -> None:
    assert [e.id for e in shipped.resolve("groq/openai/gpt-oss-120b")] == [
        "groq/openai/gpt-oss-120b"
    ]
    fanned = {e.provider for e in shipped.resolve("openai/gpt-oss-120b")}
    assert {"groq", "togetherai", "openrouter"} <= fanned


def test_resolve_variants(small: Catalog) -> None:
    assert [e.id for e in small.resolve("kimi-k2.5")] == [
        "openrouter/moonshotai/kimi-k2.5",
        "togetherai/moonshotai/Kimi-K2.5",
        "moonshotai/kimi-k2.5",
    ]
    assert [e.id for e in small.resolve("moonshotai/kimi-k2.5:free")] == [
        "openrouter/moonshotai/kimi-k2.5:free"
    ]
    assert [e.id for e in small.resolve("OpenRouter/moonshotai/kimi-k2.5:FREE")] == [
        "openrouter/moonshotai/kimi-k2.5:free"
    ]


def test_resolve_unknown(small: Catalog) -> None:
    assert small.resolve("kimi-k9") == []
    assert small.resolve("nobody/kimi-k2.5") == []
    assert small.resolve("deepseek/kimi-k2.5") == []  # known author, not their model
    assert small.resolve("") == []


def test_suggest(shipped: Catalog, small: Catalog) -> None:
    assert "deepseek-chat" in shipped.suggest("deepseek-caht")
    assert small.suggest("deepseek-caht")[0] == "deepseek-chat"
    assert len(shipped.suggest("kimi", n=3)) <= 3
    assert small.suggest("zzzzzzzz") == []


def test_with_entries_overrides_and_leaves_original_alone(small: Catalog) -> None:
    cheaper = _entry("moonshotai/kimi-k2.5", 0.01)
    new = _entry("local/smollm2", 0.0, author="huggingface")
    bigger = small.with_entries([cheaper, new])
    assert bigger.get("moonshotai/kimi-k2.5") == cheaper
    assert bigger.resolve("kimi-k2.5")[0] == cheaper
    assert bigger.get("local/smollm2") == new and len(bigger) == len(small) + 1
    assert small.get("moonshotai/kimi-k2.5") != cheaper and small.get("local/smollm2") is None
    assert "local" in bigger.providers() and "local" not in small.providers()


def test_filters(shipped: Catalog) -> None:
    assert {e.provider for e in shipped.filter(provider="deepseek")} == {"deepseek"}
    assert {e.country for e in shipped.filter(country="cn")} == {"CN"}
    qwen = shipped.filter(author="qwen")  # an alias of the alibaba author
    assert qwen and {e.author for e in qwen} == {"alibaba"}
    assert shipped.filter(author="qwen") == shipped.filter(author="alibaba")
    found = shipped.filter(search="KIMI")
    assert found and all("kimi" in f"{e.id} {e.name}".lower() for e in found)
    cheap = shipped.filter(max_input_price=0.2, max_output_price=0.5)
    assert cheap and all(e.pricing.input <= 0.2 and e.pricing.output <= 0.5 for e in cheap)
    both = shipped.filter(provider="mistral", country="FR", search="small")
    assert both and all(e.provider == "mistral" and "small" in e.id for e in both)
    assert shipped.filter(provider="no-such-provider") == []
    assert len(shipped.filter()) == len(shipped)


def test_load_explicit_path(tmp_path: Path, small: Catalog) -> None:
    import msgspec

    path = tmp_path / "catalog.json"
    path.write_bytes(
        msgspec.json.encode({"attribution": {"source": "x"}, "models": small.entries()})
    )
    loaded = Catalog.load(path)
    assert loaded.entries() == small.entries()
    assert loaded.attribution == {"source": "x"}
