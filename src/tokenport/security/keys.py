"""API keys and their credit, in the ledger's database (table: `db/schema/keys.py`).

A key is `tp-` + 40 random URL-safe characters. Only its SHA-256 is stored: keys are high-
entropy, so a slow password hash would buy nothing but latency. Money is integer nano-USD
(1e-9), so concurrent reservations and settlements add up exactly.

Credit is enforced by one conditional UPDATE per reservation:

    reserved += amount  WHERE  limit IS NULL OR usage + reserved + amount <= limit

which both databases execute atomically under a row lock, so concurrent requests, in one
process or several sharing PostgreSQL, can never reserve past the limit.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from ulid import ULID

# Money's units live with the charges (ledger/charges.py); re-exported for key code.
from tokenport.ledger.charges import NANO as NANO
from tokenport.ledger.charges import to_nano as to_nano

KEY_PREFIX = "tp-"

# Credit is stored as integer nano-USD in a 64-bit column (max ~9.2e9 USD): a larger limit
# or top-up overflowed into a 500. One billion dollars per key leaves room for usage and
# reservations on top without nearing the column's end.
MAX_CREDIT_USD = 1e9

_COLUMNS = (
    "id, name, prefix, created_at, expires_at, revoked_at, credit_limit_nano, usage_nano, "
    "reserved_nano, allowed_models, rpm, tpm, country, workspace_id, member_id, scope, disabled, "
    "limit_reset, include_byok_in_limit, updated_at"
)
# What a key may do: call the models, or manage keys and budgets (never both).
Scope = Literal["inference", "management"]
DEFAULT_WORKSPACE = "default"


class ApiKey(msgspec.Struct, frozen=True):
    """A key as stored, without its secret."""

    id: str
    name: str
    prefix: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    credit_limit_nano: int | None = None
    usage_nano: int = 0
    reserved_nano: int = 0
    allowed_models: list[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    country: str | None = None
    workspace_id: str = DEFAULT_WORKSPACE
    member_id: str | None = None
    scope: Scope = "inference"
    disabled: bool = False
    limit_reset: str | None = None  # the key's limit resets: daily, weekly, monthly (UTC)
    include_byok_in_limit: bool = False
    updated_at: float | None = None

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.disabled:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def limit_usd(self) -> float | None:
        return None if self.credit_limit_nano is None else self.credit_limit_nano / NANO

    @property
    def usage_usd(self) -> float:
        return self.usage_nano / NANO

    @property
    def remaining_usd(self) -> float | None:
        if self.credit_limit_nano is None:
            return None
        return (self.credit_limit_nano - self.usage_nano - self.reserved_nano) / NANO


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def _row_key(row: Sequence[Any]) -> ApiKey:
    allowed = row[9]
    return ApiKey(
        id=row[0],
        name=row[1],
        prefix=row[2],
        created_at=row[3],
        expires_at=row[4],
        revoked_at=row[5],
        credit_limit_nano=row[6],
        usage_nano=row[7],
        reserved_nano=row[8],
        allowed_models=msgspec.json.decode(allowed) if allowed else None,
        rpm=row[10],
        tpm=row[11],
        country=row[12],
        workspace_id=row[13],
        member_id=row[14],
        scope=row[15],
        disabled=bool(row[16]),
        limit_reset=row[17],
        include_byok_in_limit=bool(row[18]),
        updated_at=row[19],
    )


class KeyQueries:
    """The key table's SQL, over any DB-API-ish `run(sql, params) -> (rows, rowcount)`."""

    def __init__(self, param: str) -> None:
        self.param = p = param
        self.insert = (
            f"INSERT INTO api_keys (id, name, hash, prefix, created_at, expires_at, "
            f"credit_limit_nano, allowed_models, rpm, tpm, country, created_via, created_ip, "
            f"workspace_id, member_id, scope) "
            f"VALUES ({', '.join([p] * 16)})"
        )
        self.by_hash = f"SELECT {_COLUMNS} FROM api_keys WHERE hash = {p}"
        self.by_id = f"SELECT {_COLUMNS} FROM api_keys WHERE id = {p}"
        self.all = f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at"
        self.revoke = f"UPDATE api_keys SET revoked_at = {p} WHERE id = {p} AND revoked_at IS NULL"
        self.top_up = (
            f"UPDATE api_keys SET credit_limit_nano = COALESCE(credit_limit_nano, 0) + {p} "
            f"WHERE id = {p}"
        )
        self.reserve = (
            f"UPDATE api_keys SET reserved_nano = reserved_nano + {p} WHERE id = {p} AND "
            f"(credit_limit_nano IS NULL OR usage_nano + reserved_nano + {p} <= credit_limit_nano)"
        )


class KeyEdit(msgspec.Struct, frozen=True):
    """The fields an edit changes (`KeyStore.update`); UNSET leaves one as it is."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    credit_limit_nano: int | msgspec.UnsetType | None = msgspec.UNSET
    limit_reset: str | msgspec.UnsetType | None = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET
    include_byok_in_limit: bool | msgspec.UnsetType = msgspec.UNSET
    allowed_models: list[str] | msgspec.UnsetType | None = msgspec.UNSET

    def columns(self) -> list[tuple[str, object]]:
        """(column, value) for each field set, in the column's stored form."""
        out: list[tuple[str, object]] = []
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if value is msgspec.UNSET:
                continue
            if isinstance(value, bool):
                value = int(value)
            elif field == "allowed_models" and value is not None:
                value = msgspec.json.encode(value).decode() if value else None
            out.append((field, value))
        return out


class NewKey(msgspec.Struct, frozen=True):
    """A just-created key: the only time its secret exists outside the client."""

    key: ApiKey
    secret: str


def make_key(
    name: str,
    *,
    credit_limit_usd: float | None = None,
    allowed_models: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    expires_at: float | None = None,
    country: str | None = None,
    created_at: float | None = None,
    created_via: str | None = None,
    created_ip: str | None = None,
    workspace_id: str = DEFAULT_WORKSPACE,
    member_id: str | None = None,
    scope: Scope = "inference",
) -> tuple[NewKey, tuple[object, ...]]:
    """A new key and the values for `KeyQueries.insert`.

    `created_at` (default: now) may be a simulated time; `created_via` and `created_ip` say
    which call made the key and from where, for the abuse scan's key-creation signals."""
    secret = new_secret()
    created = time.time() if created_at is None else created_at
    key = ApiKey(
        id=f"key_{ULID.from_timestamp(created) if created_at is not None else ULID()}",
        name=name,
        prefix=secret[:10],
        created_at=created,
        expires_at=expires_at,
        credit_limit_nano=None if credit_limit_usd is None else to_nano(credit_limit_usd),
        allowed_models=allowed_models,
        rpm=rpm,
        tpm=tpm,
        country=country,
        workspace_id=workspace_id,
        member_id=member_id,
        scope=scope,
    )
    values = (
        key.id,
        key.name,
        hash_key(secret),
        key.prefix,
        key.created_at,
        key.expires_at,
        key.credit_limit_nano,
        msgspec.json.encode(allowed_models).decode() if allowed_models else None,
        rpm,
        tpm,
        country,
        created_via,
        created_ip,
        workspace_id,
        member_id,
        scope,
    )
    return NewKey(key, secret), values


row_to_key = _row_key
