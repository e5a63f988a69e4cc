"""Derive tokenport's catalog (`data/catalog.json`) from a models.dev snapshot.

Source: models.dev, https://github.com/anomalyco/models.dev (the shipped snapshot names its
commit). MIT License, Copyright (c) 2025 models.dev. The derived file carries the same
attribution and the commit it came from.

What is kept, and why:
- Prices are always the serving provider's own `cost`, in USD per 1M tokens. Only the base tier
  is kept: `Pricing` has no long-context tiers, and audio or reasoning surcharges are dropped.
- Some models.dev entries are stubs that point at a `base_model` for their name, limits and
  flags. The description is taken from that base when the snapshot has it described, else
  from another described entry with the same base, else from a described entry with the
  base's slug; only the providers being built and the clouds' own listings donate (see
  `_Donors`). A description is never used for price.
- Left out: entries with no price (nothing to bill by); models that do not both take and
  produce text (speech, image, video and music models); embeddings (input priced, output free);
  and entries models.dev marks `deprecated`, because routing cheapest-first would otherwise
  pick a route that is being switched off (Together's Kimi K2.5, for one). Free models (both
  prices zero) stay: they are chat models offered at no charge.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from tokenport.catalog.authors import Authors, default_authors, last_segment
from tokenport.catalog.model import ModelEntry
from tokenport.errors import ConfigError
from tokenport.values import Pricing

LICENSE = "MIT License, Copyright (c) 2025 models.dev"
SOURCE_URL = "https://models.dev"

# models.dev provider ids, which are also tokenport's provider names.
DEFAULT_PROVIDERS: tuple[str, ...] = (
    "deepseek",
    "moonshotai",
    "moonshotai-cn",
    "minimax",
    "minimax-cn",
    "zai",
    "zhipuai",
    "alibaba",
    "alibaba-cn",
    "openai",
    "anthropic",
    "google",
    "groq",
    "togetherai",
    "fireworks-ai",
    "xai",
    "mistral",
    "openrouter",
)

# Fireworks writes a version's dot as "p" (kimi-k2p6 is Kimi K2.6); undoing it lets the model
# share a slug, and so a route list, with every other provider that serves it.
_SLUG_REWRITES: Mapping[str, tuple[re.Pattern[str], str]] = {
    "fireworks-ai": (re.compile(r"(?<=\d)p(?=\d)"), "."),
}

# Named like a non-chat product; catches stubs that carry no modalities to judge by.
_NOT_CHAT = re.compile(r"^(gpt-image|chatgpt-image|dall-e|lyria|whisper|tts-|text-embedding)|embed")

# The clouds' own listings of the labs' models: trusted to describe a stub (see _Donors).
_REFERENCE_PROVIDERS = ("google-vertex", "azure", "amazon-bedrock")

# Fields a stub may inherit from its base: description only, never cost.
_DESCRIPTIVE = ("name", "family", "limit", "modalities", "tool_call", "reasoning", "open_weights")

# Spellings some models.dev entries use for the cache prices.
_COST_ALIASES = {"cache_read": "cached_input", "cache_write": "cached_write"}

Raw = dict[str, Any]


def slug_of(upstream_id: str, provider: str) -> str:
    """The name a model shares across providers: `moonshotai/Kimi-K2.5:free` -> `kimi-k2.5`."""
    slug = last_segment(upstream_id)
    if rewrite := _SLUG_REWRITES.get(provider):
        slug = rewrite[0].sub(rewrite[1], slug)
    return slug


class Snapshot(msgspec.Struct, frozen=True):
    """A models.dev dump: its provenance and `provider id -> provider` (with `models`)."""

    source: str
    commit: str
    providers: dict[str, Raw]


def load_snapshot(path: Path) -> Snapshot:
    """Read a models.dev dump.

    `path` is either a JSON file or a models.dev checkout. A file may be a tokenport snapshot
    (`source`, `commit`, `providers`, like the one in shared/data/catalog) or models.dev's own
    `api.json` (provider ids at the top level). A checkout is expected to hold a prebuilt
    `api.json` at its root (models.dev's build output, or a download of models.dev/api.json);
    the commit is then read from its `.git`.
    """
    commit = "unknown"
    if path.is_dir():
        commit = _git_head(path) or commit
        path = path / "api.json"
        if not path.is_file():
            raise ConfigError(
                f"{path.parent} is a directory without api.json at its root. A models.dev "
                "checkout must hold a prebuilt api.json there (its build output, or a download of "
                f"{SOURCE_URL}/api.json); or pass a snapshot JSON file instead"
            )
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a models.dev snapshot from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a models.dev snapshot: expected a JSON object")
    if isinstance(data.get("providers"), dict):
        source = str(data.get("source", "models.dev"))
        return Snapshot(source, str(data.get("commit", commit)), data["providers"])
    if data and all(isinstance(p, dict) and "models" in p for p in data.values()):
        return Snapshot(f"models.dev api.json ({SOURCE_URL})", commit, data)
    raise ConfigError(f"{path} is not a models.dev snapshot: no providers with models found")


def _git_head(checkout: Path) -> str | None:
    # Read .git directly rather than run git: the rebuild must work where git is not installed.
    git = checkout / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head.removeprefix("ref: ")
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    except OSError:
        return None
    return None


def _described(raw: Raw) -> bool:
    return all(key in raw for key in ("name", "limit", "modalities"))


class _Donors:
    """Described entries that can fill in a stub's description.

    Only trusted providers donate: the ones being built and the clouds' own listings of the
    labs' models. Elsewhere in models.dev, resellers rename models ("Umans Coder" for Kimi K2.7
    Code) or cap their limits, and those values must not leak into other providers' entries.
    """

    def __init__(self, providers: Mapping[str, Raw], trusted: Sequence[str]) -> None:
        self._rank = {provider: i for i, provider in enumerate(dict.fromkeys(trusted))}
        self._by_key: dict[str, Raw] = {}
        self._by_base: dict[str, list[tuple[str, Raw]]] = defaultdict(list)
        self._by_slug: dict[str, list[tuple[str, Raw]]] = defaultdict(list)
        for provider in self._rank:
            models: Mapping[str, Raw] = providers.get(provider, {}).get("models") or {}
            for model_id, raw in models.items():
                if not _described(raw):
                    continue
                key = f"{provider}/{model_id}"
                self._by_key[key] = raw
                self._by_slug[slug_of(model_id, provider)].append((key, raw))
                if base := raw.get("base_model"):
                    self._by_base[base].append((key, raw))

    def find(self, base: str) -> Raw | None:
        """The best description of `base`: itself, then a sibling, then a same-slug entry."""
        if exact := self._by_key.get(base):
            return exact
        owner = base.split("/", 1)[0]

        def rank(candidate: tuple[str, Raw]) -> tuple[bool, int, str]:
            provider = candidate[0].split("/", 1)[0]
            return (provider != owner, self._rank[provider], candidate[0])

        for candidates in (self._by_base.get(base), self._by_slug.get(slug_of(base, ""))):
            if candidates:
                return min(candidates, key=rank)[1]
        return None


def _inherit(raw: Raw, donors: _Donors) -> Raw:
    base = raw.get("base_model")
    donor = donors.find(base) if base else None
    if donor is None or donor is raw:
        return raw
    merged = {key: donor[key] for key in _DESCRIPTIVE if key in donor}
    merged.update(raw)
    merged["limit"] = {**donor.get("limit", {}), **raw.get("limit", {})}
    return merged


_EMBEDDING = re.compile(r"embed")


def _is_embedding(raw: Raw, slug: str) -> bool:
    """An embedding model: text in, priced for input only (it is left out of the chat list)."""
    cost = raw.get("cost")
    if not isinstance(cost, dict) or "input" not in cost or raw.get("status") == "deprecated":
        return False
    inputs = (raw.get("modalities") or {}).get("input", ["text"])
    return bool(_EMBEDDING.search(slug)) and "text" in inputs


def _skip_reason(raw: Raw, slug: str) -> str | None:
    if raw.get("status") == "deprecated":
        return "deprecated"
    cost = raw.get("cost")
    if not isinstance(cost, dict) or "input" not in cost or "output" not in cost:
        return "no_price"
    modalities = raw.get("modalities") or {}
    if any("text" not in modalities.get(side, ["text"]) for side in ("input", "output")):
        return "not_chat"
    if cost["output"] == 0 and cost["input"] > 0:
        return "not_chat"  # an embedding model: billed for input only
    if _NOT_CHAT.search(slug):
        return "not_chat"
    return None


def _pricing(cost: Raw) -> Pricing:
    def price(key: str) -> float | None:
        value = cost.get(key, cost.get(_COST_ALIASES.get(key, "")))
        return None if value is None else float(value)

    return Pricing(
        input=float(cost["input"]),
        output=float(cost["output"]),
        cache_read=price("cache_read"),
        cache_write=price("cache_write"),
    )


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None


def _released(value: Any) -> int | None:
    """models.dev's `release_date` (YYYY-MM-DD or YYYY-MM) as Unix seconds; None if malformed."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            day = datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(day.timestamp())
    return None


def _entry(provider: str, model_id: str, raw: Raw, slug: str, authors: Authors) -> ModelEntry:
    author, country = authors.author_of(model_id, raw.get("family"), provider)
    limit = raw.get("limit") or {}
    name = str(raw.get("name") or model_id.rsplit("/", 1)[-1]).strip()
    return ModelEntry(
        id=f"{provider}/{model_id}",
        provider=provider,
        upstream_id=model_id,
        slug=slug,
        name=name,
        author=author,
        country=country,
        pricing=_pricing(raw["cost"]),
        context_length=_positive(limit.get("context")),
        max_output=_positive(limit.get("output")),
        tool_call=bool(raw.get("tool_call", True)),
        reasoning=bool(raw.get("reasoning", False)),
        open_weights=bool(raw.get("open_weights", False)),
        created=_released(raw.get("release_date")),
    )


def build_catalog(models_dev_path: Path, providers: Sequence[str]) -> dict[str, Any]:
    """The catalog document for `providers`, from a models.dev snapshot file or checkout.

    Deterministic: the same snapshot always gives the same document. Providers the snapshot
    lacks contribute nothing.
    """
    snapshot = load_snapshot(models_dev_path)
    # Sorted, so that the order `providers` come in cannot change which entry donates.
    donors = _Donors(snapshot.providers, [*sorted(providers), *_REFERENCE_PROVIDERS])
    authors = default_authors()
    entries: dict[str, ModelEntry] = {}
    embeddings: dict[str, ModelEntry] = {}
    excluded: Counter[str] = Counter()
    for provider in dict.fromkeys(providers):
        models: Mapping[str, Raw] = snapshot.providers.get(provider, {}).get("models") or {}
        for model_id, stub in models.items():
            raw = _inherit(stub, donors)
            slug = slug_of(model_id, provider)
            if reason := _skip_reason(raw, slug):
                excluded[reason] += 1
                if _is_embedding(raw, slug):
                    e = _entry(provider, model_id, raw, slug, authors)
                    embeddings[e.id.lower()] = msgspec.structs.replace(e, tool_call=False)
                continue
            entry = _entry(provider, model_id, raw, slug, authors)
            if entry.id.lower() in entries:
                raise ConfigError(f"two catalog entries share the id {entry.id!r}")
            entries[entry.id.lower()] = entry
    return {
        "attribution": {
            "source": snapshot.source,
            "commit": snapshot.commit,
            "license": LICENSE,
            "url": SOURCE_URL,
        },
        "generated_from_commit": snapshot.commit,
        "excluded": dict(sorted(excluded.items())),
        "models": [msgspec.to_builtins(e) for e in sorted(entries.values(), key=lambda e: e.id)],
        # Served by POST /v1/embeddings only; never a chat route.
        "embedding_models": [
            msgspec.to_builtins(e) for e in sorted(embeddings.values(), key=lambda e: e.id)
        ],
    }


def render_catalog(doc: Mapping[str, Any]) -> str:
    """The document as JSON text with one model per line, so a price change is a one-line diff."""
    lists = ("models", "embedding_models")
    head = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k not in lists]
    body = []
    for key in lists:
        rows = ",\n".join(f"  {json.dumps(m, ensure_ascii=False)}" for m in doc.get(key, []))
        body.append(f' "{key}": [\n{rows}\n ]')
    return "{\n" + ",\n".join([*head, *body]) + "\n}\n"


def write_catalog(
    models_dev_path: Path, out_path: Path, providers: Sequence[str] = DEFAULT_PROVIDERS
) -> dict[str, Any]:
    """Build the catalog and write it to `out_path`; returns the document written."""
    doc = build_catalog(models_dev_path, providers)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(render_catalog(doc), encoding="utf-8")
    tmp.replace(out_path)  # atomic: a reader never sees half a catalog
    return doc
