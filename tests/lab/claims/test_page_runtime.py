"""The report after the README's plain `pip install -e .`: no matplotlib, drawn by Chart.js."""

from __future__ import annotations

from pathlib import Path

import pytest

from _helpers import missing, require_module, run_cli_without_dev_packages

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = run_cli_without_dev_packages(["economics", "report", "--out", str(tmp / "r.html")], tmp)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return tmp / "r.html"


def test_report_is_written_without_matplotlib(report_page: Path) -> None:
    page = report_page.read_text(encoding="utf-8")
    assert page.count("class='chart-config'") == 8 and "data:image/png" not in page


def test_report_charts_draw_in_headless_chromium(report_page: Path) -> None:
    sync_api = require_module("playwright.sync_api", "pip install playwright")
    if not Path(CHROMIUM).exists():
        missing("apt-get install chromium (Debian's /usr/bin/chromium)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(report_page.as_uri())
            drawn = page.evaluate(
                """() => [...document.querySelectorAll('canvas')].map((c) => {
                    const chart = Chart.getChart(c);
                    return chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0;
                })"""
            )
            # a drawn canvas has non-blank pixels
            inked = page.evaluate(
                """() => [...document.querySelectorAll('canvas')].map((c) => {
                    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
                    return n;
                })"""
            )
        finally:
            browser.close()
    assert errors == []
    assert len(drawn) == 8 and all(n > 0 for n in drawn), drawn
    assert all(n > 1000 for n in inked), inked
