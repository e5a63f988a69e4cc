"""The HTML report is self-contained, shows every claim with its arithmetic, and its JSON twin
carries the same verdicts."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tokenport.economics.report import Report, build_report, render_html, report_json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report()


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return render_html(report)


def test_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']https?://""", page)
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)


def test_every_claim_has_a_section_with_its_verdict(report: Report, page: str) -> None:
    for r in report.claims:
        assert f"id='{r.id}'" in page
        assert r.verdict in page
    assert "28,800-43,200 J per token" in page
    assert "ML.ENERGY Leaderboard v3" in page


def test_list_prices_sit_beside_proxy_costs(report: Report) -> None:
    labels = [p.typical.label for p in report.prices]
    assert "MiniMax M2.5" in labels and "Claude Opus 4.5" in labels
    for row in report.prices:
        assert row.best.cost_output <= row.typical.cost_output  # largest batch is cheapest


def test_json_carries_the_same_verdicts(report: Report) -> None:
    data = json.loads(report_json(report))
    assert [c["verdict"] for c in data["claims"]] == [r.verdict for r in report.claims]
    assert data["regions"][0]["output"]["total"] <= data["regions"][-1]["output"]["total"]
