"""Scenario files and the request planner: reproducible, calibrated, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tokenport.cli.lab import register
from tokenport.errors import ConfigError
from tokenport.lab import scenario


def test_feb_2026_is_calibrated_to_the_articles() -> None:
    s = scenario.load("feb-2026")
    volumes = {m.id: sum(m.weekly_tokens_t) for m in s.models}
    top10 = sorted(volumes.values(), reverse=True)[:10]
    assert sum(top10) == pytest.approx(s.claims["top10_tokens_t"])
    named = ["minimax/MiniMax-M2.5", "moonshotai/kimi-k2.5", "openrouter/deepseek/deepseek-v3.2",
             "zai/glm-5"]  # fmt: skip
    assert [volumes[m] for m in named] == pytest.approx([5.44, 4.27, 3.09, 1.89])
    assert sum(volumes[m] for m in named) == pytest.approx(s.claims["cn_top10_tokens_t"])
    ranks = sorted(volumes, key=lambda m: -volumes[m])
    assert [ranks.index(m) + 1 for m in named] == [1, 2, 4, 8]
    countries = scenario.key_countries(s, 10_000)
    assert countries.count("US") == 4717 and countries.count("CN") == 601


def test_planning_is_reproducible_and_meets_the_budgets() -> None:
    s = scenario.load("feb-2026")
    a, b = scenario.plan_requests(s, 800), scenario.plan_requests(s, 800)
    assert a == b
    assert 700 < len(a) < 950
    assert [p.ts for p in a] == sorted(p.ts for p in a)
    assert all(s.start_ts <= p.ts < s.end_ts for p in a)
    tokens = [0.0] * len(s.models)
    for p in a:
        if not p.fail:
            tokens[p.model] += p.words + p.cached + p.completion
    want = [sum(m.weekly_tokens_t) for m in s.models]
    for got, expect in zip(tokens, want, strict=True):
        assert got / sum(tokens) == pytest.approx(expect / sum(want), abs=0.002)
    assert {p.key for p in a} == set(range(s.scenario.users)) or len(a) < s.scenario.users


def test_a_bad_scenario_names_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[scenario]\nname = "bad"\nstart = "2026-02-01"\nweeks = 2\n'
        '[[model]]\nid = "openai/gpt-5"\nweekly_tokens_t = [1.0]\n'
        '[[app]]\nname = "x"\nshare = 1.5\n'
    )
    with pytest.raises(ConfigError, match="1 weekly volumes for 2 weeks") as info:
        scenario.load(str(bad))
    assert "app shares add up to more than 1" in info.value.message
    with pytest.raises(ConfigError, match="feb-2026"):
        scenario.load("no-such-scenario")


def test_simulate_unknown_scenario_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENPORT_DATA_DIR", str(tmp_path))
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """harness"""

    register(app)
    result = CliRunner().invoke(app, ["simulate", "--scenario", "mars-2030"])
    assert result.exit_code == 2 and "feb-2026" in result.output
