"""Claude Code (`claude -p`, from npm) runs a shell command through tokenport's Messages door
and answers with its output: once on a Kimi-like OpenAI-compatible upstream (the request
translated), once on an Anthropic-protocol one (native). The environment, alias and
command line are the README's section, as written."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from _coding_agents import (
    ANTHROPIC,
    KIMI,
    OUTPUT,
    PROVIDER_KEY,
    REASONING,
    agent_bin,
    agent_env,
    agent_script,
    assert_answered,
    assert_ledger,
    create_key,
    fill,
    readme_block,
    readme_shell,
    run_agent,
    start_gateway,
    upstream_turns,
)

from tokenport.config import Settings
from tokenport.providers.fake import FakeUpstream

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
    assert aliases == {"claude-*": KIMI}, "the test serves the README's model with a fake"
    return aliases


@pytest.mark.parametrize("route", [KIMI, ANTHROPIC], ids=["openai-kimi", "anthropic"])
def test_claude_code_runs_a_shell_command_through_tokenport(
    route: str,
    fake: FakeUpstream,
    fake2: FakeUpstream,
    gateway_factory: Any,
    tmp_path: Path,
) -> None:
    aliases = {pattern: route for pattern in readme_aliases()}
    shell = readme_shell(SECTION, "claude")
    claude = agent_bin("claude")
    upstream = fake if route == KIMI else fake2
    upstream.set_script(agent_script("Bash", BASH_CALL))
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

    # Two model turns: the tool call, then the answer to the command's output.
    first, second = upstream_turns(upstream)
    if route == KIMI:  # translated to Chat Completions, with Moonshot's key
        assert first.path == second.path == "/v1/chat/completions"
        assert first.body["model"] == "kimi-k2.5"
        assert first.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
        assert "Bash" in [t["function"]["name"] for t in first.body["tools"]]
        call, result = second.body["messages"][-2:]
        assert call["tool_calls"][0]["function"]["name"] == "Bash"
        # Kimi (like DeepSeek) refuses a tool-call turn sent back without its reasoning.
        assert call["reasoning_content"] == REASONING
        assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
        assert OUTPUT in result["content"]
    else:  # native Messages, blocks as Claude Code sent them
        assert first.path == second.path == "/v1/messages"
        assert "Bash" in [t["name"] for t in first.body["tools"]]
        call, result = second.body["messages"][-2:]
        assert [b["type"] for b in call["content"]] == ["thinking", "tool_use"]
        assert call["content"][0]["signature"]  # the thinking block comes back signed
        block = result["content"][0]
        assert block["type"] == "tool_result" and block["tool_use_id"] == call["content"][1]["id"]
        assert OUTPUT in json.dumps(block["content"])

    rows = assert_ledger(
        gw.base_url,
        tmp_path,
        turns=2,
        door="messages",
        provider="moonshotai" if route == KIMI else "antx",
        key_id=key_id,
    )
    assert all(r["model_requested"].startswith("claude-") for r in rows), rows
