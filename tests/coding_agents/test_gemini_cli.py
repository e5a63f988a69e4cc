"""Gemini CLI (`gemini -p`, from npm) runs a shell command through tokenport's Gemini door
and answers with its output: on a Kimi-like OpenAI-compatible upstream (translated, the
reasoning carried back through the call's thoughtSignature), on an Anthropic-protocol one,
and on a Gemini-protocol one (native, Gemini's own signature passed through). The aliases,
settings.json, environment and command line are docs/gemini.md's section, as written."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from _coding_agents import (
    ADMIN_KEY,
    ANTHROPIC,
    KIMI,
    OUTPUT,
    ROOT,
    Route,
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
from _helpers import missing
from tokenport.config import Settings
from tokenport.lab.fake import FakeUpstream

pytestmark = pytest.mark.agents

DOC = ROOT / "docs" / "gemini.md"
SECTION = "Gemini CLI"
INSTALL = ROOT / ".ci" / "install-gemini-cli"
BIN = ROOT / ".agents" / "gemini-cli" / "node_modules" / ".bin"
# Added by the test (the doc says so): a scratch folder is not a trusted workspace.
TEST_ENV = {"GEMINI_CLI_TRUST_WORKSPACE": "true"}
SHELL_CALL = json.dumps({"command": "echo tokenport-42", "description": "Print a marker"})


def gemini_bin() -> Path:
    """Gemini CLI at the version `.ci/install-gemini-cli` pins (skipped locally when absent,
    a failure in CI). The version is read from the installed package, not `gemini
    --version`, which starts the whole CLI (seconds on a busy machine)."""
    pinned = re.search(r"^GEMINI_CLI_VERSION=(\S+)$", INSTALL.read_text(), flags=re.M)
    assert pinned, f"{INSTALL} pins no GEMINI_CLI_VERSION"
    path, package = BIN / "gemini", BIN.parent / "@google" / "gemini-cli" / "package.json"
    if not path.exists() or not package.exists():
        missing("Gemini CLI is not installed: run .ci/install-gemini-cli (npm, pinned)")
    version = json.loads(package.read_text())["version"]
    if version != pinned.group(1):
        missing(f"Gemini CLI {version} is installed, not {pinned.group(1)}")
    return path


def doc_aliases() -> dict[str, str]:
    config = tomllib.loads(readme_block(SECTION, "toml", "[aliases]", DOC))
    Settings.model_validate(config)  # a valid tokenport.toml as it stands
    aliases = dict(config["aliases"])
    assert aliases == {"gemini-*": KIMI.model}, "the test serves the doc's model with a fake"
    return aliases


# A Gemini-protocol upstream (native: the door's body goes through, Gemini's thought
# signature included; the fake refuses a function-calling turn sent back without it).
GEMINI = Route("gemx/fake-model", "gemx", "gemini", "fake-model")


def start(gateway_factory: Any, fake: FakeUpstream, fake2: FakeUpstream, route: Route) -> Any:
    aliases = {pattern: route.model for pattern in doc_aliases()}
    if route is not GEMINI:
        return start_gateway(gateway_factory, fake, fake2, aliases=aliases)
    return gateway_factory(
        {"gemx": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN_KEY},
        require_keys=True,
        aliases=aliases,
        gemx_extra={"protocol": "gemini", "base_url": fake.base_url + "/v1beta"},
    )


def assert_native_round_trip(upstream: FakeUpstream) -> None:
    """Two turns at `:streamGenerateContent`, the second carrying the call (signed) and the
    command's output as its function response."""
    first, second = upstream_turns(upstream)
    assert first.path == second.path == "/v1beta/models/fake-model:streamGenerateContent"
    names = [d["name"] for t in first.body["tools"] for d in t.get("functionDeclarations", ())]
    assert "run_shell_command" in names
    call, result = second.body["contents"][-2:]
    assert call["parts"][0]["thoughtSignature"] == agent_script(GEMINI, "", "").signature
    assert call["parts"][0]["functionCall"]["name"] == "run_shell_command"
    response = result["parts"][0]["functionResponse"]
    assert OUTPUT in json.dumps(response["response"])


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(KIMI, id="openai-kimi"),
        pytest.param(ANTHROPIC, id="anthropic"),
        pytest.param(GEMINI, id="gemini-native"),
    ],
)
def test_gemini_cli_runs_a_shell_command_through_tokenport(
    route: Route,
    fake: FakeUpstream,
    fake2: FakeUpstream,
    gateway_factory: Any,
    tmp_path: Path,
) -> None:
    shell = readme_shell(SECTION, "gemini", DOC)
    settings = json.loads(readme_block(SECTION, "json", '"selectedType"', DOC))
    assert settings["telemetry"] == {"enabled": False}
    gemini = gemini_bin()
    upstream = fake if route is GEMINI else upstream_of(route, fake, fake2)
    upstream.set_script(agent_script(route, "run_shell_command", SHELL_CALL))
    gw = start(gateway_factory, fake, fake2, route)
    secret, key_id = create_key(gw.base_url)

    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env = agent_env(
        home,
        **{name: fill(value, gw.base_url, secret) for name, value in shell.exports.items()},
        **TEST_ENV,
    )
    env["PATH"] = f"{BIN}:{env['PATH']}"
    argv = [str(gemini), *shell.argv[1:]]
    model_at = argv.index("-m") + 1
    assert argv[model_at] == KIMI.model, "the test serves the doc's model with a fake"
    argv[model_at] = route.model
    run = run_agent(argv, env, tmp_path / "work")
    assert_answered(run)

    if route is GEMINI:
        assert_native_round_trip(upstream)
    else:
        assert_upstream_round_trip(route, upstream, "run_shell_command")
        turns = upstream_turns(upstream)
        assert all(t.body["stream"] for t in turns), "Gemini CLI streams (alt=sse)"
    rows = assert_ledger(
        gw.base_url, tmp_path, turns=2, door="gemini", provider=route.provider, key_id=key_id
    )
    assert {r["model_requested"] for r in rows} == {route.model}, rows
