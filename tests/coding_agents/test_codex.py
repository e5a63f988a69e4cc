"""Codex (`codex exec`, from npm) runs a shell command through tokenport's Responses door
and answers with its output: once on a Kimi-like OpenAI-compatible upstream, once on an
Anthropic-protocol one. The config.toml, environment and command line are the manual's
section (docs/doors.md), as written."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from _coding_agents import (
    ANTHROPIC,
    DEEPSEEK,
    KIMI,
    OUTPUT,
    README_URL,
    REASONING,
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
    upstream_turns,
)
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.agents

SECTION = "Codex on Kimi, DeepSeek, GLM or MiniMax"
# Added by the test (the README says so): no sandbox or trusted-directory check in a
# scratch directory inside a container, and no retries, so that a failure ends the run.
TEST_FLAGS = [
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "-c",
    "model_providers.tokenport.request_max_retries=0",
    "-c",
    "model_providers.tokenport.stream_max_retries=0",
    "--disable",
    "unbounded_connection_retries",
]
# What Codex offers for a model it has no metadata for (any tokenport slug): a function
# `exec_command` that runs `cmd` with bash.
EXEC_CALL = json.dumps({"cmd": f"echo {OUTPUT}"})


def readme_config(base_url: str, model: str) -> str:
    """The README's config.toml, pointed at this gateway and serving `model`."""
    text = readme_block(SECTION, "toml", "[model_providers.tokenport]")
    config = tomllib.loads(text)
    assert config["model"] == KIMI.model, "the test serves the README's model with a fake"
    assert config["model_providers"]["tokenport"]["base_url"] == README_URL + "/v1"
    text = re.sub(r'(?m)^model = "[^"]*"', f'model = "{model}"', text.replace(README_URL, base_url))
    assert tomllib.loads(text)["model"] == model
    return text


@pytest.mark.parametrize(
    ("route", "effort"),
    [
        pytest.param(KIMI, None, id="openai-kimi"),
        # DeepSeek answers 400 to OpenAI's `developer` role, which Codex sends.
        pytest.param(DEEPSEEK, None, id="openai-deepseek"),
        pytest.param(ANTHROPIC, None, id="anthropic"),
        # `model_reasoning_effort` turns Anthropic's thinking on for the whole loop: the
        # signed thinking must come back through the reasoning item's encrypted_content.
        pytest.param(ANTHROPIC, "high", id="anthropic-reasoning-effort"),
    ],
)
def test_codex_runs_a_shell_command_through_tokenport(
    route: Route,
    effort: str | None,
    fake: FakeUpstream,
    fake2: FakeUpstream,
    gateway_factory: Any,
    tmp_path: Path,
) -> None:
    shell = readme_shell(SECTION, "codex")
    assert shell.argv[1] == "exec", shell.argv
    codex = agent_bin("codex")
    upstream = upstream_of(route, fake, fake2)
    upstream.set_script(agent_script(route, "exec_command", EXEC_CALL))
    gw = start_gateway(gateway_factory, fake, fake2)
    secret, key_id = create_key(gw.base_url)

    codex_home = tmp_path / "codex-home"  # Codex refuses a CODEX_HOME that does not exist
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(readme_config(gw.base_url, route.model))
    env = agent_env(
        tmp_path / "home",
        **{name: fill(value, gw.base_url, secret) for name, value in shell.exports.items()},
        CODEX_HOME=str(codex_home),
    )
    flags = [*TEST_FLAGS, *(["-c", f"model_reasoning_effort={effort}"] if effort else [])]
    argv = [str(codex), "exec", *flags, *shell.argv[2:]]
    run = run_agent(argv, env, tmp_path / "work")
    assert_answered(run)

    call = assert_upstream_round_trip(route, upstream, "exec_command")
    if route.protocol == "anthropic":
        assert ("thinking" in upstream_turns(upstream)[0].body) == bool(effort)
        if effort:  # sent back as Anthropic signed it (the fake refuses it otherwise)
            assert call["content"][0] == {
                "type": "thinking",
                "thinking": REASONING,
                "signature": agent_script(route, "", "").signature,
            }
    rows = assert_ledger(
        gw.base_url, tmp_path, turns=2, door="responses", provider=route.provider, key_id=key_id
    )
    assert {r["model_requested"] for r in rows} == {route.model}, rows
