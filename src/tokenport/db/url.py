"""Database URLs: which database a string names, and how to name it in a message.

sqlite:///relative.db      SQLite, a path relative to the working directory
sqlite:////abs/path.db     SQLite, an absolute path (SQLAlchemy's convention)
sqlite:///:memory:         SQLite in memory (tests, throwaway runs)
plain/path.db              SQLite
postgresql://... or postgres://...   PostgreSQL, handed to libpq as written
"""

from __future__ import annotations

from typing import Literal

import msgspec
import psycopg
from psycopg.conninfo import conninfo_to_dict

from tokenport.errors import ConfigError

Dialect = Literal["sqlite", "postgres"]


class DatabaseUrl(msgspec.Struct, frozen=True):
    """A parsed database URL. `target` is the SQLite path or the PostgreSQL conninfo URL."""

    url: str
    dialect: Dialect
    target: str

    @property
    def param(self) -> str:
        """The driver's query placeholder: the one SQL difference the stores must carry."""
        return "?" if self.dialect == "sqlite" else "%s"

    @property
    def memory(self) -> bool:
        return self.dialect == "sqlite" and self.target == ":memory:"

    @property
    def where(self) -> str:
        """The database named without its password, for messages and logs."""
        if self.dialect == "sqlite":
            return self.target
        try:
            info = conninfo_to_dict(self.target)
        except psycopg.Error:  # a malformed URL; the message must still be written
            return "PostgreSQL (unparsable URL)"
        host, port, name = info.get("host", "localhost"), info.get("port", 5432), info.get("dbname")
        return f"{host}:{port}/{name or ''}"


def parse_url(url: str | DatabaseUrl) -> DatabaseUrl:
    """Parse a database URL by the rules in this module's docstring; ConfigError otherwise."""
    if isinstance(url, DatabaseUrl):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "sqlite", "/" + url
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigError(f"The database URL {url!r} names no SQLite file.")
        return DatabaseUrl(url, "sqlite", path)
    if scheme in ("postgresql", "postgres"):
        return DatabaseUrl(url, "postgres", url)
    raise ConfigError(
        f"Unsupported database URL scheme {scheme!r}: use sqlite:///path.db or postgresql://..."
    )
