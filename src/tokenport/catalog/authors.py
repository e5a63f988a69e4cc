"""Who made a model, and where: the author table in `authors.toml`, and the rules that read it.

The table is data so that a new lab is one TOML entry, not a code change. The matching order
(namespace, then model name, then family, then first-party provider) is explained at the top
of `authors.toml`, next to the rules it orders.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import msgspec

UNKNOWN_AUTHOR = "unknown"
UNKNOWN_COUNTRY = "??"


class Author(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One row of `authors.toml`."""

    id: str
    name: str
    country: str
    orgs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()


class _File(msgspec.Struct, forbid_unknown_fields=True):
    author: list[Author]


def last_segment(model_id: str) -> str:
    """The model's own name: the last path segment, lowercased, without a `:variant` suffix."""
    return model_id.rsplit("/", 1)[-1].split(":", 1)[0].lower()


def _org(segment: str) -> str:
    # OpenRouter marks its floating aliases with "~" ("~anthropic/claude-opus-latest").
    return segment.lower().lstrip("~")


class Authors:
    """The author table, indexed once. Immutable: build a new one to change it."""

    __slots__ = ("_by_id", "_by_org", "_by_provider", "_families", "_patterns")

    def __init__(self, authors: Iterable[Author]) -> None:
        self._by_id: dict[str, Author] = {}
        self._by_org: dict[str, Author] = {}
        self._by_provider: dict[str, Author] = {}
        self._families: list[tuple[str, Author]] = []
        self._patterns: list[tuple[re.Pattern[str], Author]] = []
        for author in authors:
            _add_unique(self._by_id, author.id.lower(), author, "author id")
            for org in author.orgs:
                _add_unique(self._by_org, org.lower(), author, "org")
            for provider in author.providers:
                _add_unique(self._by_provider, provider, author, "provider")
            self._families.extend((family.lower(), author) for family in author.families)
            self._patterns.extend((re.compile(p), author) for p in author.models)

    @classmethod
    def load(cls, path: Path | None = None) -> Authors:
        """Read a table; by default the one shipped in the package."""
        if path is None:
            data = resources.files("tokenport.catalog").joinpath("authors.toml").read_bytes()
        else:
            data = path.read_bytes()
        parsed = msgspec.convert(tomllib.loads(data.decode()), _File)
        return cls(parsed.author)

    def __iter__(self) -> Iterator[Author]:
        return iter(self._by_id.values())

    def get(self, author_id: str) -> Author | None:
        return self._by_id.get(author_id.lower())

    def canonical(self, name: str) -> str | None:
        """The author id for an author id or any of its org aliases (`z-ai` -> `zhipuai`)."""
        key = _org(name)
        author = self._by_id.get(key) or self._by_org.get(key)
        return author.id if author else None

    def match(self, model_id: str, family: str | None, provider: str) -> Author | None:
        """The author of `model_id` (an upstream id) as `provider` serves it, if any rule knows."""
        for segment in model_id.split("/")[:-1]:
            if author := self._by_org.get(_org(segment)):
                return author
        name = last_segment(model_id)
        for pattern, author in self._patterns:
            if pattern.search(name):
                return author
        if family:
            fam = family.lower()
            for prefix, author in self._families:
                if fam == prefix or fam.startswith(prefix + "-"):
                    return author
        return self._by_provider.get(provider)

    def author_of(self, model_id: str, family: str | None, provider: str) -> tuple[str, str]:
        """`(author id, country)`; `("unknown", "??")` when no rule matches."""
        author = self.match(model_id, family, provider)
        return (author.id, author.country) if author else (UNKNOWN_AUTHOR, UNKNOWN_COUNTRY)


def _add_unique(index: dict[str, Author], key: str, author: Author, what: str) -> None:
    if key in index:
        raise ValueError(
            f"authors.toml: {what} {key!r} is claimed by both {index[key].id!r} and {author.id!r}"
        )
    index[key] = author


@functools.cache
def default_authors() -> Authors:
    """The shipped table, parsed once: it is immutable package data, so sharing it is safe."""
    return Authors.load()


def author_of(model_id: str, family: str | None, provider: str) -> tuple[str, str]:
    """`(author id, country)` for an upstream model id, by the shipped table."""
    return default_authors().author_of(model_id, family, provider)
