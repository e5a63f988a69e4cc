"""The HTML report is self-contained, shows every claim with its arithmetic, and its JSON twin
carries the same verdicts."""

from __future__ import annotations

import json
import re

import pytest

from tokenport.lab.claims.page import Report, build_report, render_html, report_json

CONFIG = re.compile(r"<script type='application/json' class='chart-config' [^>]*>(.*?)</script>")


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report()


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return render_html(report)


def test_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "Chart.js v4.6.1" in page  # the vendored copy, inlined
    configs = [json.loads(c) for c in CONFIG.findall(page)]
    # energy, electricity share, regional prices, PUE, training energy, capability vs cost,
    # the DeepSeek reproduction, list prices
    types = ["scatter", "bar", "bar", "bar", "bar", "scatter", "bar", "bar"]
    assert [c["type"] for c in configs] == types
    assert all(d["data"] for c in configs for d in c["data"]["datasets"])


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


def test_each_claim_says_what_would_flip_it(report: Report, page: str) -> None:
    training = next(r for r in report.claims if r.id == "training_energy")
    assert training.sensitivity and training.sensitivity[0].flips_at is not None
    assert "What would flip it" in page and "assumptions.host_overhead = 1.5" in page
    assert "&gt; 50" in page  # a one-sided claim reads as the articles put it


def test_the_reproduction_has_its_own_section(report: Report, page: str) -> None:
    assert "id='reproduction'" in page and "costs --reproduce deepseek-2025-03" in page
    assert report.reproduction.within_tolerance
    data = json.loads(report_json(report))
    assert data["reproduction"]["rows"][0]["figure"] == "nodes (24 h average)"
    assert {p["cheap"] for p in data["pairs"]} >= {"zero-one-ai/Yi-34B-Chat"}
