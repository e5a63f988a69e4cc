"""Shared helpers for the analytics tests: ledgers filled with known traffic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tokenport.analytics import rollups
from tokenport.db import Database
from tokenport.ledger import LedgerRecord, open_store
from tokenport.ledger.store import UsageRow

# 2026-03-01T00:00:00Z; the synthetic weeks below end here.
END = 1_772_323_200
HOUR = 3600
DAY = 86_400


def record(
    rid: str,
    ts: float,
    model: str | None,
    *,
    prompt: int = 100,
    completion: int = 10,
    cost: float = 0.001,
    key: str | None = "key_a",
    app: str | None = "app-a",
    status: str = "ok",
) -> LedgerRecord:
    return LedgerRecord(
        id=rid,
        ts=ts,
        model_requested=model or "nothing",
        status=status,
        key_id=key,
        app=app,
        model_served=model,
        provider=model.split("/")[0] if model else None,
        prompt_tokens=prompt if status == "ok" else 0,
        completion_tokens=completion if status == "ok" else 0,
        cost=cost if status == "ok" else 0.0,
        latency_ms=100.0,
    )


def fill(url: str, records: Sequence[LedgerRecord]) -> None:
    store = open_store(url)
    try:
        store.migrate()
        store.insert_batch(records)
    finally:
        store.close()


def row(bucket: int, **fields: object) -> UsageRow:
    return UsageRow(bucket=bucket, **fields)  # type: ignore[arg-type]


class Served:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: object) -> None:
        import socket
        import threading
        import time

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> tuple[int, bytes, str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.base_url + path, timeout=30) as resp:
                return resp.status, resp.read(), resp.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("content-type", "")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def assert_narrow_tables_match(db: Database, nonempty: bool = False) -> None:
    """Each narrow rollup table holds exactly `rollup_hourly` summed over its dimension."""
    sums = ", ".join(f"SUM({c})" for c in rollups.SUMS)
    for table, column in rollups.DIMENSIONS.values():
        want = db.rows(
            f"SELECT hour, {column}, {sums} FROM rollup_hourly GROUP BY hour, {column} "
            "ORDER BY 1, 2"
        )
        got = db.rows(
            f"SELECT hour, {column}, {', '.join(rollups.SUMS)} FROM {table} ORDER BY 1, 2"
        )
        assert len(got) == len(want), table
        assert got or not nonempty, table
        for w, g in zip(want, got, strict=True):
            assert w[:8] == g[:8], table
            assert w[8:] == pytest.approx(g[8:]), table
