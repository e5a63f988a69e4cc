"""Claude Code (`claude -p`, from npm) runs a shell command through tokenport's Messages door
and answers with its output: on Kimi-like and DeepSeek-like OpenAI-compatible upstreams
(the request translated), and on an Anthropic-protocol one (native). The environment,
alias and command line are the manual's section (docs/doors.md), as written."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from _coding_agents import (
    ANTHROPIC,
    DEEPSEEK,
    KIMI,
    OUTPUT,
    Route,
    agent_bin,
    agent_env,
    agent_script,
    assert_answered,
    assert_ledger,
    assert_upstream_round_trip,
    create_key,
    fill,
    readme_block,
    readme_shell,
    run_agent,
    start_gateway,
    upstream_of,
)
from tokenport.config import Settings
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.agents

SECTION = "Claude Code on Kimi, DeepSeek, GLM or MiniMax"
# Added by the test (the README says so): fail at once rather than retry, and never let
# the non-streaming fallback hide a broken stream.
TEST_ENV = {"CLAUDE_CODE_MAX_RETRIES": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1"}
BASH_CALL = json.dumps({"command": f"echo {OUTPUT}", "description": "Print a marker"})


def readme_aliases() -> dict[str, str]:
    config = tomllib.loads(readme_block(SECTION, "toml", "[aliases]"))
    Settings.model_validate(config)  # a valid tokenport.toml as it stands
    aliases = dict(config["aliases"])
    assert aliases == {"claude-*": KIMI.model}, "the test serves the README's model with a fake"
    return aliases


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(KIMI, id="openai-kimi"),
        pytest.param(DEEPSEEK, id="openai-deepseek"),
        pytest.param(ANTHROPIC, id="anthropic"),
    ],
)
def test_claude_code_runs_a_shell_command_through_tokenport(
    route: Route,
    fake: FakeUpstream,
    fake2: FakeUpstream,
    gateway_factory: Any,
    tmp_path: Path,
) -> None:
    aliases = {pattern: route.model for pattern in readme_aliases()}
    shell = readme_shell(SECTION, "claude")
    claude = agent_bin("claude")
    upstream = upstream_of(route, fake, fake2)
    upstream.set_script(agent_script(route, "Bash", BASH_CALL))
    gw = start_gateway(gateway_factory, fake, fake2, aliases=aliases)
    secret, key_id = create_key(gw.base_url)

    home = tmp_path / "home"
    env = agent_env(
        home,
        **{name: fill(value, gw.base_url, secret) for name, value in shell.exports.items()},
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        **TEST_ENV,
    )
    run = run_agent([str(claude), *shell.argv[1:]], env, tmp_path / "work")
    assert_answered(run)

    call = assert_upstream_round_trip(route, upstream, "Bash")
    if route.protocol == "anthropic":  # native: the thinking block comes back signed
        assert call["content"][0]["type"] == "thinking" and call["content"][0]["signature"]
    rows = assert_ledger(
        gw.base_url, tmp_path, turns=2, door="messages", provider=route.provider, key_id=key_id
    )
    assert all(r["model_requested"].startswith("claude-") for r in rows), rows
