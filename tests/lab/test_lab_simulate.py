"""`tokenport simulate` end to end, and the dashboard in real headless Chromium.

One small feb-2026 run (real gateway over HTTP, fake upstreams on loopback, SQLite ledger)
feeds both tests: the scenario check must pass, and the dashboard served by a gateway on that
ledger must draw every chart with data. The screenshot is kept in the test's tmp folder and,
when TOKENPORT_ARTIFACTS names a folder, copied there to be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from _an_helpers import Served
from _helpers import missing, require_module, wait_for_dashboard
from tokenport.analytics.api import routes
from tokenport.api.errors import EXCEPTION_HANDLERS
from tokenport.catalog.store import Catalog
from tokenport.db import Database
from tokenport.lab import scenario, simulate

pytestmark = pytest.mark.timeout(120)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHARTS = (
    "chart-author-area", "chart-country-area", "chart-author-share", "chart-country-share",
    "chart-geography", "chart-spend-keys", "chart-spend-models",
)  # fmt: skip


@pytest.fixture(scope="module")
def simulated(
    tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> tuple[simulate.SimResult, scenario.Scenario, Path]:
    s = scenario.load("feb-2026")
    url, work = simulate.scratch_url(tmp_path_factory.mktemp("an_sim"), s.scenario.name)
    opts = simulate.Options(s, url, work, requests=1_200, users=100, concurrency=16)
    return simulate.run(opts, catalog), s, work


def test_simulation_reproduces_the_scenario(
    simulated: tuple[simulate.SimResult, scenario.Scenario, Path],
) -> None:
    result, s, _ = simulated
    failing = [row for row in result.check.rows if not row.ok]
    assert result.check.ok, failing
    assert result.check.passed > 80
    planned = scenario.plan_requests(s, 1_200)
    assert result.requests == len(planned)
    db = Database(result.database_url)
    try:
        requests, errors = db.rows("SELECT COUNT(*), SUM(status = 'error') FROM requests")[0]
        apps = {r[0] for r in db.rows("SELECT DISTINCT app FROM requests")}
    finally:
        db.close()
    # Every planned request is in the ledger; each scripted failure failed exactly one.
    assert requests == len(planned)
    assert errors == sum(p.fail for p in planned) == result.failed
    assert "OpenClaw" in apps
    claims = {c.claim: c for c in result.check.claims}
    top10 = claims["Chinese share of top-ten tokens"]
    assert top10.measured is not None and top10.measured > 0.5  # "more than half"


def _browser() -> object:
    sync_api = require_module("playwright.sync_api", "pip install playwright")
    if not Path(CHROMIUM).exists():
        missing("apt-get install chromium (Debian's /usr/bin/chromium)")
    return sync_api


@pytest.fixture
def gateway(
    simulated: tuple[simulate.SimResult, scenario.Scenario, Path], tmp_path: Path, catalog: Catalog
) -> Iterator[Served]:
    from tokenport.api.app import create_app
    from tokenport.config import Settings

    result, _, _ = simulated
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "database_url": result.database_url,
            "local": {"enabled": False},
        }
    )
    app = create_app(settings, env={}, catalog=catalog)
    starlette = getattr(app, "starlette", app)  # the chat hot path wraps the Starlette app
    if not any(getattr(r, "path", None) == "/dashboard" for r in starlette.routes):
        starlette.router.routes.extend(routes(lambda: app.state.tp))  # until the app mounts them
    server = Served(app)
    yield server
    server.stop()


def _open(page: object, url: str) -> str:
    page.goto(url)  # type: ignore[attr-defined]
    return wait_for_dashboard(page)


def test_dashboard_in_headless_chromium(gateway: Served, tmp_path: Path) -> None:
    sync_api = _browser()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:  # type: ignore[attr-defined]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            assert _open(page, gateway.base_url + "/dashboard") == "ready"
            drawn = page.evaluate("window.__tokenport.charts")
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            top = page.inner_text("#table-models tbody tr:first-child")
            cn_share = page.inner_text("#card-cn")
            assert _open(page, gateway.base_url + "/dashboard?window=fortnight") == "error"
            assert "day, week, month" in page.inner_text("#status")
        finally:
            browser.close()
    assert all(drawn.get(c, 0) > 0 for c in CHARTS), drawn
    assert "MiniMax" in top and "▲" in top
    assert float(cn_share.rstrip("%")) > 50
    assert [e for e in errors if "400" not in e] == []
    assert shot.stat().st_size > 50_000
    if os.environ.get("TOKENPORT_ARTIFACTS"):
        out = Path(os.environ["TOKENPORT_ARTIFACTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, out / "dashboard.png")


def test_empty_dashboard_in_headless_chromium(tmp_path: Path, catalog: Catalog) -> None:
    import types

    from starlette.applications import Starlette

    sync_api = _browser()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    state = types.SimpleNamespace(
        settings=types.SimpleNamespace(ledger_url=lambda: url), catalog=catalog
    )
    server = Served(Starlette(routes=routes(lambda: state), exception_handlers=EXCEPTION_HANDLERS))
    try:
        with sync_api.sync_playwright() as p:  # type: ignore[attr-defined]
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                assert _open(page, server.base_url + "/dashboard") == "empty"
                assert page.is_visible("#empty") and not page.is_visible("#content")
                assert "tokenport simulate" in page.inner_text("#empty")
                page.screenshot(path=str(tmp_path / "empty.png"))
            finally:
                browser.close()
    finally:
        server.stop()
