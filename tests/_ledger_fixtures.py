"""Shared fixtures for the ledger tests: the same suite runs on SQLite and PostgreSQL.

PostgreSQL runs in a fresh schema per test (`tp_test_<random>`, dropped after), selected with
`options=-csearch_path=...` in the URL, so parallel runs and other suites never collide.
Unreachable PostgreSQL fails the postgres params loudly; TOKENPORT_SKIP_PG=1 skips them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from tokenport.errors import ServiceUnavailable
from tokenport.ledger import LedgerRecord, LedgerStore, open_store
from tokenport.values import Attempt

PG_DSN = os.environ.get("TOKENPORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_DOWN = (
    "PostgreSQL not reachable at 127.0.0.1:5432 — start it with: pg_ctlcluster 15 main start "
    "(or set TOKENPORT_SKIP_PG=1 to skip the PostgreSQL half of the ledger suite)"
)


def _pg_schema_url() -> Iterator[str]:
    if os.environ.get("TOKENPORT_SKIP_PG") == "1":
        pytest.skip("TOKENPORT_SKIP_PG=1")
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        pytest.fail(f"{PG_DOWN}\n{reason}", pytrace=False)
    schema = f"tp_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


def query(url: str, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Run a read on a fresh store (uses the store's reader; `?` becomes the dialect's marker)."""
    store = open_store(url)
    try:
        # The SQL stores' reader and placeholder; LedgerStore (the seam) has neither.
        sql_store: Any = store
        rows: list[tuple[Any, ...]] = sql_store._query(sql.replace("?", sql_store.param), params)
        return rows
    finally:
        store.close()


def count(url: str) -> int:
    return int(query(url, "SELECT COUNT(*) FROM requests")[0][0])


def full_record(
    record_id: str = "01JAAAAAAAAAAAAAAAAAAAAAAA", ts: float = 1_760_000_123.25
) -> LedgerRecord:
    """A record with every field set to something other than its default."""
    return LedgerRecord(
        id=record_id,
        ts=ts,
        model_requested="auto",
        status="error",
        key_id="key_1",
        app="cline",
        model_served="openai/gpt-4o-mini",
        provider="openai",
        region="us-east",
        prompt_tokens=1234,
        completion_tokens=567,
        cached_tokens=200,
        cache_write_tokens=30,
        reasoning_tokens=40,
        cost=0.001234,
        upstream_cost=0.0012,
        latency_ms=812.5,
        ttft_ms=120.25,
        error_class="UpstreamTimeout",
        usage_estimated=True,
        finish_reason="length",
        stream=True,
        http_status=504,
        attempts=[
            Attempt(
                provider="azure",
                model="gpt-4o-mini",
                status="error",
                latency_ms=30.5,
                error_class="UpstreamServerError",
                error="boom",
                http_status=503,
            ),
            Attempt(provider="openai", model="gpt-4o-mini", status="ok", latency_ms=780.0),
        ],
        energy_wh=0.25,
        energy_cost=0.00005,
    )


class FlakyStore:
    """Wraps a real store; while `down`, writes fail as an unreachable database would."""

    def __init__(self, inner: LedgerStore) -> None:
        self.inner = inner
        self.down = False
        self.failures = 0

    def _check(self) -> None:
        if self.down:
            self.failures += 1
            raise ServiceUnavailable("test: the database is down")

    def migrate(self) -> list[str]:
        return self.inner.migrate()

    def insert_batch(self, records: Sequence[LedgerRecord], /) -> int:
        self._check()
        return self.inner.insert_batch(records)

    def get(self, record_id: str, /) -> LedgerRecord | None:
        self._check()
        return self.inner.get(record_id)

    def rollups(self, since: float, until: float) -> Any:
        return self.inner.rollups(since, until)

    def usage_report(self, since: float, until: float, group_by: Any = (), **kw: Any) -> Any:
        return self.inner.usage_report(since, until, group_by, **kw)

    def close(self) -> None:
        self.inner.close()
