"""`GET /api/v1/rankings`, `/dashboard` and its files, over real HTTP."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from _an_helpers import END, HOUR, Served, fill, record
from tokenport.analytics.api import routes
from tokenport.api.errors import EXCEPTION_HANDLERS
from tokenport.catalog.store import Catalog

pytestmark = pytest.mark.timeout(60)


def _state(url: str, catalog: Catalog) -> types.SimpleNamespace:
    settings = types.SimpleNamespace(ledger_url=lambda: url)
    return types.SimpleNamespace(settings=settings, catalog=catalog)


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('an_api') / 'ledger.db'}"
    records = [
        record(f"r{i:03d}", END - 3 * HOUR - i * 600, m, prompt=p, key=k, app=a)
        for i, (m, p, k, a) in enumerate(
            [("minimax/MiniMax-M2.5", 500, "k1", "Cline")] * 6
            + [("anthropic/claude-sonnet-4-5", 300, "k2", None)] * 4
        )
    ]
    fill(url, records)
    return url


@pytest.fixture(scope="module")
def served(ledger_url: str, catalog: Catalog) -> Iterator[Served]:
    state = _state(ledger_url, catalog)
    server = Served(Starlette(routes=routes(lambda: state), exception_handlers=EXCEPTION_HANDLERS))
    yield server
    server.stop()


def _json(served: Served, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    status, body, ctype = served.get(path)
    assert ctype.startswith("application/json")
    return status, json.loads(body)


def test_rankings_by_model(served: Served) -> None:
    status, body = _json(served, "/api/v1/rankings?window=week&by=model")
    assert status == 200
    assert list(body["sections"]) == ["model"]
    rows = body["sections"]["model"]["rows"]
    assert [r["id"] for r in rows] == ["minimax/minimax-m2.5", "anthropic/claude-sonnet-4-5"]
    assert rows[0]["tokens"] == 6 * 510 and rows[0]["country"] == "CN"
    assert body["end_source"] == "latest"  # the data are in the past: the window follows them


def test_all_sections_by_default(served: Served) -> None:
    status, body = _json(served, f"/api/v1/rankings?end={END}")
    assert status == 200
    assert list(body["sections"]) == ["model", "author", "country", "app", "key", "geography"]
    assert body["end"] == "2026-03-01T00:00:00Z" and body["end_source"] == "param"
    assert body["sections"]["app"]["rows"][0]["id"] == "Cline"
    assert body["sections"]["app"]["unattributed"]["requests"] == 4
    assert body["sections"]["country"]["rows"][0]["id"] == "CN"


@pytest.mark.parametrize(
    ("query", "param", "allowed"),
    [
        ("window=fortnight", "window", ["day", "week", "month"]),
        ("by=planet", "by", ["model", "author", "country", "app", "key", "geography"]),
        ("mode=lunar", "mode", ["rolling", "calendar"]),
        ("colour=red", "colour", None),
        ("periods=1", "periods", None),
        ("end=soon", "end", ["auto", "now", "latest"]),
    ],
)
def test_bad_parameters_are_400_with_the_allowed_values(
    served: Served, query: str, param: str, allowed: list[str] | None
) -> None:
    status, body = _json(served, f"/api/v1/rankings?{query}")
    assert status == 400
    error = body["error"]
    assert error["param"] == param and error["metadata"]["type"] == "invalid_request_error"
    if allowed is not None:
        assert all(a in error["allowed"] for a in allowed)
    assert error["message"]


def test_empty_ledger_is_a_friendly_empty_answer(tmp_path: Path, catalog: Catalog) -> None:
    state = _state(f"sqlite:///{tmp_path / 'never-written.db'}", catalog)
    server = Served(Starlette(routes=routes(lambda: state), exception_handlers=EXCEPTION_HANDLERS))
    try:
        status, body, _ = server.get("/api/v1/rankings")
    finally:
        server.stop()
    data = json.loads(body)
    assert status == 200 and data["empty"] is True
    assert data["sections"]["model"]["rows"] == []


def test_dashboard_page_and_vendored_chart_js(served: Served) -> None:
    status, body, ctype = served.get("/dashboard")
    assert status == 200 and ctype.startswith("text/html")
    html = body.decode()
    assert "/dashboard/static/chart.umd.min.js" in html and "__ROOT__" not in html
    status, js, _ = served.get("/dashboard/static/chart.umd.min.js")
    assert status == 200 and b"Chart.js v4.6.1" in js[:200]
    status, app_js, _ = served.get("/dashboard/app/dashboard.js")
    assert status == 200 and b"/api/v1/rankings" in app_js
    status, _, _ = served.get("/dashboard/static/chart.js.LICENSE.md")
    assert status == 200
