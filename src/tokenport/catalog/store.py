"""The catalog in memory: every model and price, indexed for the request path.

A `Catalog` is immutable once built; `with_entries` returns a new one. Every lookup the router
makes per request (`get`, `resolve`) is a dict hit, so a catalog of thousands of models costs
nothing at request time.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import msgspec

from tokenport.catalog.authors import default_authors, last_segment
from tokenport.catalog.model import ModelEntry


class _CatalogFile(msgspec.Struct):
    attribution: dict[str, str]
    models: list[ModelEntry]
    generated_from_commit: str | None = None
    excluded: dict[str, int] = msgspec.field(default_factory=dict)
    embedding_models: list[ModelEntry] = msgspec.field(default_factory=list)


def default_catalog_path() -> Path:
    """Where the shipped catalog lives: the package's `data/catalog.json`."""
    return Path(str(resources.files("tokenport.catalog").joinpath("data", "catalog.json")))


def _price_order(entry: ModelEntry) -> tuple[float, str]:
    return (entry.pricing.input + entry.pricing.output, entry.id)


def _variant(name: str) -> str:
    """OpenRouter's variant suffix: `free` for `...:free`, `` for none."""
    return name.rsplit("/", 1)[-1].partition(":")[2]


class Catalog:
    """Models and prices, looked up by id, slug or OpenRouter-style `author/slug`."""

    __slots__ = ("_attribution", "_by_id", "_by_slug", "_by_upstream", "_sorted")

    def __init__(
        self, entries: Iterable[ModelEntry], *, attribution: Mapping[str, str] | None = None
    ) -> None:
        self._attribution = dict(attribution or {})
        # Later entries win, which is what gives `with_entries` its override semantics.
        self._by_id: dict[str, ModelEntry] = {e.id.lower(): e for e in entries}
        self._sorted = tuple(sorted(self._by_id.values(), key=lambda e: e.id))
        by_slug: dict[str, list[ModelEntry]] = defaultdict(list)
        by_upstream: dict[str, list[ModelEntry]] = defaultdict(list)
        for entry in self._sorted:
            by_slug[entry.slug.lower()].append(entry)
            by_upstream[entry.upstream_id.lower()].append(entry)
        self._by_slug = {k: tuple(sorted(v, key=_price_order)) for k, v in by_slug.items()}
        self._by_upstream = {k: tuple(sorted(v, key=_price_order)) for k, v in by_upstream.items()}

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """Read a catalog file written by `build.write_catalog`; the shipped one by default."""
        data = (path or default_catalog_path()).read_bytes()
        parsed = msgspec.json.decode(data, type=_CatalogFile)
        return cls(parsed.models, attribution=parsed.attribution)

    @classmethod
    def load_embeddings(cls, path: Path | None = None) -> Catalog:
        """The embedding models of a catalog file: the routes of POST /v1/embeddings."""
        data = (path or default_catalog_path()).read_bytes()
        parsed = msgspec.json.decode(data, type=_CatalogFile)
        return cls(parsed.embedding_models, attribution=parsed.attribution)

    def with_entries(self, extra: Iterable[ModelEntry]) -> Catalog:
        """A new catalog with `extra` added; an extra entry replaces one with the same id."""
        return Catalog([*self._sorted, *extra], attribution=self._attribution)

    @property
    def attribution(self) -> dict[str, str]:
        """Where the data came from and under which license (empty for a hand-built catalog)."""
        return dict(self._attribution)

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and model_id.lower() in self._by_id

    def get(self, model_id: str) -> ModelEntry | None:
        """The entry with exactly this `provider/upstream_id` (case-insensitive)."""
        return self._by_id.get(model_id.strip().lower())

    def resolve(self, name: str) -> list[ModelEntry]:
        """Every route that serves `name`, cheapest (input + output price) first.

        - A tokenport id (`groq/openai/gpt-oss-120b`, `openrouter/moonshotai/kimi-k2.5`) is
          that one route.
        - A bare slug (`kimi-k2.5`) is every provider serving the model.
        - OpenRouter's `author/slug` (`moonshotai/kimi-k2.5`, `meta-llama/llama-3.3-70b-instruct`)
          is every provider serving that author's model. A first-party id such as
          `deepseek/deepseek-chat` reads this way too, as OpenRouter clients mean it, so it
          fans out; pin one provider with the request's provider preferences instead.
        - A namespace that names no author (`siliconflow/deepseek-v3.2`) must match an
          upstream id exactly.
        - `:free` and other variant suffixes select that variant; a name without one never
          resolves to a variant, as at OpenRouter.
        """
        key = name.strip().lower()
        exact = self._by_id.get(key)
        authors = default_authors()
        if exact is not None and authors.canonical(exact.provider) != exact.author:
            return [exact]
        prefix = key.rpartition("/")[0]
        if not prefix:
            found: Iterable[ModelEntry] = self._by_slug.get(last_segment(key), ())
        elif author := authors.canonical(prefix):
            slug_entries = self._by_slug.get(last_segment(key), ())
            found = (e for e in slug_entries if e.author == author)
        else:
            found = self._by_upstream.get(key, ())
        variant = _variant(key)
        return [e for e in found if _variant(e.upstream_id).lower() == variant]

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Up to `n` ids or slugs close to `name`, best first, for "did you mean" messages."""
        names: dict[str, str] = {}
        for entry in self._sorted:
            names.setdefault(entry.slug.lower(), entry.slug)
            names.setdefault(entry.id.lower(), entry.id)
        close = difflib.get_close_matches(name.strip().lower(), names, n=n)
        return [names[c] for c in close]

    def entries(self) -> list[ModelEntry]:
        """Every entry, sorted by id."""
        return list(self._sorted)

    def providers(self) -> list[str]:
        return sorted({e.provider for e in self._sorted})

    def filter(
        self,
        *,
        provider: str | None = None,
        author: str | None = None,
        country: str | None = None,
        search: str | None = None,
        max_input_price: float | None = None,
        max_output_price: float | None = None,
    ) -> list[ModelEntry]:
        """Entries matching every given criterion, sorted by id.

        `author` accepts an author id or any alias the author table knows (`qwen`, `z-ai`);
        `search` is a case-insensitive substring of the id, name or author; prices are maxima
        in USD per 1M tokens, inclusive.
        """
        want_author = author and (default_authors().canonical(author) or author.lower())
        needle = search.lower() if search else None
        return [
            e
            for e in self._sorted
            if (provider is None or e.provider == provider.lower())
            and (not want_author or e.author == want_author)
            and (country is None or e.country == country.upper())
            and (needle is None or needle in f"{e.id}\n{e.name}\n{e.author}".lower())
            and (max_input_price is None or e.pricing.input <= max_input_price)
            and (max_output_price is None or e.pricing.output <= max_output_price)
        ]
