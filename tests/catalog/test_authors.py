"""Authors and countries: the rules in authors.toml, and their coverage of the catalog."""

from __future__ import annotations

import re

import pytest

from tokenport.catalog import Catalog, author_of
from tokenport.catalog.authors import Author, Authors, default_authors


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize(
    ("model_id", "family", "provider", "expected"),
    [
        ("kimi-k2.5", "kimi-k2", "moonshotai", ("moonshotai", "CN")),
        ("moonshotai/kimi-k2.5", None, "openrouter", ("moonshotai", "CN")),
        (
            "accounts/fireworks/models/kimi-k2p6",
            "kimi-thinking",
            "fireworks-ai",
            ("moonshotai", "CN"),
        ),
        ("deepseek-chat", "deepseek", "deepseek", ("deepseek", "CN")),
        ("MiniMaxAI/MiniMax-M2.5", "minimax", "togetherai", ("minimax", "CN")),
        ("z-ai/glm-4.6", None, "openrouter", ("zhipuai", "CN")),
        ("qwen3-max", "qwen", "alibaba", ("alibaba", "CN")),
        ("tongyi-intent-detect-v3", "yi", "alibaba-cn", ("alibaba", "CN")),
        ("xiaomi/mimo-v2.5", None, "openrouter", ("xiaomi", "CN")),
        ("claude-sonnet-4-5", "claude-sonnet", "anthropic", ("anthropic", "US")),
        ("~anthropic/claude-opus-latest", "claude-opus", "openrouter", ("anthropic", "US")),
        ("o3", None, "openai", ("openai", "US")),
        ("openai/gpt-oss-120b", None, "groq", ("openai", "US")),
        ("gemma-3-27b-it", None, "somewhere", ("google", "US")),
        ("llama-3.3-70b-versatile", "llama", "groq", ("meta", "US")),
        ("grok-4.3", "grok", "xai", ("xai", "US")),
        ("codestral-latest", "codestral", "mistral", ("mistral", "FR")),
        ("mistralai/mixtral-8x22b-instruct", "mistral", "openrouter", ("mistral", "FR")),
        ("cohere/command-a", "command-a", "openrouter", ("cohere", "CA")),
        ("ai21/jamba-large-1.7", "jamba", "openrouter", ("ai21", "IL")),
        ("nvidia/llama-3.3-nemotron-super-49b-v1.5", None, "openrouter", ("nvidia", "US")),
        # Derived models belong to whoever derived them, not to the base model's maker.
        ("deepseek-r1-distill-llama-70b", "deepseek-thinking", "alibaba-cn", ("deepseek", "CN")),
        ("deepseek-r1-distill-qwen-14b", "qwen", "alibaba-cn", ("deepseek", "CN")),
        (
            "nousresearch/hermes-3-llama-3.1-405b",
            "nousresearch",
            "openrouter",
            ("nousresearch", "US"),
        ),
        # The first-party provider is the last resort for a house name no rule knows.
        ("some-house-model", None, "mistral", ("mistral", "FR")),
        ("some-model", None, "openrouter", ("unknown", "??")),
    ],
)
def test_author_of(
    model_id: str, family: str | None, provider: str, expected: tuple[str, str]
) -> None:
    assert author_of(model_id, family, provider) == expected


def test_kimi_k25_is_chinese_everywhere(shipped: Catalog) -> None:
    kimi = shipped.resolve("kimi-k2.5")
    assert kimi and {(e.author, e.country) for e in kimi} == {("moonshotai", "CN")}


def test_claude_is_anthropic_us(shipped: Catalog) -> None:
    claude = [e for e in shipped.entries() if "claude" in e.slug]
    assert len(claude) > 10
    assert {(e.author, e.country) for e in claude} == {("anthropic", "US")}


def test_mistral_models_are_french(shipped: Catalog) -> None:
    mistral = shipped.filter(provider="mistral")
    assert mistral and {e.country for e in mistral} == {"FR"}
    assert {e.country for e in shipped.filter(author="mistral")} == {"FR"}


def test_almost_every_model_has_a_real_author(shipped: Catalog) -> None:
    entries = shipped.entries()
    unknown = [e.id for e in entries if e.author == "unknown"]
    assert len(unknown) <= 0.05 * len(entries), unknown


def test_table_is_well_formed() -> None:
    table = list(default_authors())
    assert len(table) > 40
    for author in table:
        assert re.fullmatch(r"[A-Z]{2}|\?\?", author.country), author
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", author.id), author


def test_canonical_accepts_ids_and_aliases() -> None:
    authors = default_authors()
    assert authors.canonical("z-ai") == "zhipuai"
    assert authors.canonical("Meta-Llama") == "meta"
    assert authors.canonical("~openai") == "openai"
    assert authors.canonical("nobody") is None
    assert authors.get("anthropic") is not None


def test_conflicting_rules_are_rejected() -> None:
    a = Author(id="a", name="A", country="US", orgs=("shared",))
    b = Author(id="b", name="B", country="FR", orgs=("shared",))
    with pytest.raises(ValueError, match="shared"):
        Authors([a, b])
