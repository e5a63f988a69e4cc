"""Running the real coding agents (Claude Code, Codex) against a gateway in a test.

The agents come from npm, pinned, installed into `.agents/` by `.ci/install-agents`.
What they are told to do (environment, config, command line) is read from the manual's
sections (docs/doors.md, once the README's), so the documentation is exactly what CI runs;
the tests only swap the placeholders (the gateway's address, a `tp-...` key) and add the
flags they list.
"""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json, missing
from tokenport.lab.fake import FakeUpstream, Received, Script

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".agents" / "node_modules" / ".bin"
README = ROOT / "docs" / "doors.md"  # the page the README's agent sections moved to
README_URL = "http://127.0.0.1:8000"  # the gateway's address as the manual writes it
ADMIN_KEY = "admin-secret-for-the-agent-tests"
OUTPUT = "tokenport-42"  # what the shell command prints
AGENT_TIMEOUT_S = 120
REASONING = "The user wants the output of a shell command, so I will run it."


@dataclass(frozen=True)
class Route:
    """A model the agent asks tokenport for, and the fake upstream that serves it."""

    model: str  # the tokenport model the agent is configured with
    provider: str  # the provider the gateway routes it to (and the ledger records)
    protocol: str  # the upstream's protocol: "openai" or "anthropic"
    upstream_model: str  # the model id the upstream receives
    roles: tuple[str, ...] | None = None  # the message roles the upstream accepts

    @property
    def key(self) -> str:
        """The provider's API key, as the gateway has it from the environment."""
        return f"sk-test-{self.provider}"


# Built-in providers with their `base_url` pointed at the fake: their catalog models are
# served by it, with the provider's key from the environment, as for a user.
KIMI = Route("moonshotai/kimi-k2.5", "moonshotai", "openai", "kimi-k2.5")
# DeepSeek refuses a role it does not know ("developer").
DEEPSEEK = Route(
    "deepseek/deepseek-chat",
    "deepseek",
    "openai",
    "deepseek-chat",
    roles=("system", "user", "assistant", "tool"),
)
ANTHROPIC = Route("antx/fake-claude", "antx", "anthropic", "fake-claude")


def agent_script(route: Route, tool: str, arguments: str) -> Script:
    """A Kimi-like model: reasons first, calls the agent's shell tool, then reports the
    command's output once it comes back as a tool result. It holds the client to the
    upstream's rules: the roles it knows, and over Anthropic's protocol, with thinking on,
    a tool-calling turn sent back with its signed thinking block first."""
    return Script(
        tool_name=tool,
        tool_arguments=arguments,
        after_tool_result="The command printed: {result}",
        reasoning=REASONING,
        thinking_rule=True,
        roles=route.roles,
    )


# ---------------------------------------------------------------------------------------
# The README


def readme_blocks(title: str, doc: Path = README) -> list[tuple[str, str]]:
    """(language, text) of each fenced block in the README (or `doc`) section `## {title}`."""
    text = doc.read_text()
    start = text.find(f"\n## {title}\n")
    assert start >= 0, f"{doc.name} has no section '## {title}'"
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)


def readme_block(title: str, lang: str, containing: str, doc: Path = README) -> str:
    found = [
        body for kind, body in readme_blocks(title, doc) if kind == lang and containing in body
    ]
    assert len(found) == 1, f"README '## {title}': want one ```{lang} block with {containing!r}"
    return found[0]


@dataclass
class Shell:
    """A README shell block: its `export NAME=value` lines and its one command."""

    exports: dict[str, str]
    argv: list[str]


def readme_shell(title: str, program: str, doc: Path = README) -> Shell:
    exports: dict[str, str] = {}
    commands: list[list[str]] = []
    for line in readme_block(title, "bash", f"\n{program} ", doc).splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            exports[name] = value
        else:  # the agent's own stdin is handled by run_agent
            commands.append([w for w in words if not w.startswith("<")])
    assert [c[0] for c in commands] == [program], f"README '## {title}': {commands}"
    return Shell(exports, commands[0])


def fill(value: str, base_url: str, key: str) -> str:
    """A README value with its placeholders replaced: the gateway's address and a key."""
    if value.startswith("tp-..."):
        return key
    return value.replace(README_URL, base_url)


# ---------------------------------------------------------------------------------------
# Running an agent


def pinned_version(name: str) -> str:
    """The version `.ci/install-agents` pins for `claude` or `codex`."""
    script = (ROOT / ".ci" / "install-agents").read_text()
    found = re.search(rf"^{name.upper()}_VERSION=(\S+)$", script, flags=re.M)
    assert found, f".ci/install-agents pins no {name.upper()}_VERSION"
    return found.group(1)


def agent_bin(name: str) -> Path:
    """The installed agent, at the version `.ci/install-agents` pins (skipped locally when
    absent, a failure in CI)."""
    path, want = BIN / name, pinned_version(name)
    if not path.exists():
        missing(f"{name} is not installed: run .ci/install-agents (npm, pinned versions)")
    codex_home = BIN.parents[1] / "codex-home"  # `codex --version` writes under CODEX_HOME
    codex_home.mkdir(exist_ok=True)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "CODEX_HOME": str(codex_home)}
    got = subprocess.run(
        [path, "--version"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if want not in got.stdout.split():
        missing(
            f"{name} --version says {got.stdout or got.stderr!r}, not the pinned {want}: "
            "run .ci/install-agents"
        )
    return path


def agent_env(home: Path, **values: str) -> dict[str, str]:
    """A clean environment: none of the developer's keys, config or agent settings leak in."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        **values,
    }


def run_agent(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run an agent to the end: stdin closed (an open pipe makes Codex wait for input
    forever), output captured, and a timeout that fails the test with what it printed."""
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        return subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=AGENT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(f"{argv[0]} ran past {AGENT_TIMEOUT_S}s\nstdout: {out}\nstderr: {err}")


def assert_answered(run: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 is not enough: a denied or never-run tool still exits 0."""
    report = f"rc {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr[-4000:]}"
    assert run.returncode == 0, report
    # The model's last answer (stdout) quotes the tool result (Codex's carries a header).
    assert run.stdout.startswith("The command printed: ") and OUTPUT in run.stdout, report


# ---------------------------------------------------------------------------------------
# The gateway's side


def create_key(base_url: str) -> tuple[str, str]:
    """A fresh tokenport key through the admin API: (secret, key id)."""
    status, body = http_json("POST", base_url + "/api/v1/keys", {"name": "agent"}, token=ADMIN_KEY)
    assert status == 201, body
    return str(body["key"]), str(body["data"]["id"])


def upstream_turns(fake: FakeUpstream) -> list[Received]:
    """The model calls the upstream received (its health and model probes left out)."""
    return [r for r in fake.requests if r.method == "POST"]


def ledger_rows(data_dir: Path, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The ledger's records, once at least `count` reached the database (it is written off
    the request path, a few milliseconds later)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(data_dir / "ledger.db") as db:
            db.row_factory = sqlite3.Row
            query = "SELECT * FROM requests ORDER BY ts"
            rows = [dict(r) for r in db.execute(query)]
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"the ledger has {len(rows)} records, not {count}: {rows}")


def assert_ledger(
    base_url: str, data_dir: Path, *, turns: int, door: str, provider: str, key_id: str
) -> list[dict[str, Any]]:
    """One ok record per model turn, through `door`, on the key the agent was given; the
    generation API says the same."""
    rows = ledger_rows(data_dir, turns)
    assert len(rows) == turns, rows
    for row in rows:
        assert row["status"] == "ok", row
        assert (row["door"], row["provider"], row["key_id"]) == (door, provider, key_id), row
        status, gen = http_json(
            "GET", f"{base_url}/api/v1/generation?id={row['id']}", token=ADMIN_KEY
        )
        assert status == 200, gen
        assert gen["data"]["door"] == door, gen
    return rows


def start_gateway(
    gateway_factory: Any, openai_fake: FakeUpstream, anthropic_fake: FakeUpstream, **settings: Any
) -> Any:
    """A gateway that requires keys, with the built-in Moonshot and DeepSeek providers'
    `base_url` pointed at `openai_fake`, and `anthropic_fake` as the Anthropic-protocol
    provider `antx`."""
    return gateway_factory(
        {"moonshotai": openai_fake, "deepseek": openai_fake, "antx": anthropic_fake},
        env={
            "TOKENPORT_ADMIN_KEY": ADMIN_KEY,
            "MOONSHOT_API_KEY": KIMI.key,
            "DEEPSEEK_API_KEY": DEEPSEEK.key,
        },
        require_keys=True,
        # Only the catalog's models, as a user has them.
        moonshotai_extra={"models": []},
        deepseek_extra={"models": []},
        **settings,
    )


def upstream_of(route: Route, openai_fake: FakeUpstream, anthropic_fake: FakeUpstream) -> Any:
    return openai_fake if route.protocol == "openai" else anthropic_fake


def assert_upstream_round_trip(route: Route, upstream: FakeUpstream, tool: str) -> Any:
    """The upstream saw two model turns: one offering the agent's tool, then one carrying
    the command's output back as the tool result (with the call's reasoning, which Kimi and
    DeepSeek require on tool-call turns). Returns the second turn's assistant message."""
    first, second = upstream_turns(upstream)
    assert first.body["model"] == second.body["model"] == route.upstream_model
    if route.protocol == "openai":  # translated to Chat Completions
        assert first.path == second.path == "/v1/chat/completions"
        assert first.headers["authorization"] == f"Bearer {route.key}"
        assert tool in [t["function"]["name"] for t in first.body["tools"]]
        call, result = second.body["messages"][-2:]
        assert call["tool_calls"][0]["function"]["name"] == tool
        assert call["reasoning_content"] == REASONING
        assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
        assert OUTPUT in result["content"]
    else:  # Anthropic Messages
        assert first.path == second.path == "/v1/messages"
        assert tool in [t["name"] for t in first.body["tools"]]
        call, result = second.body["messages"][-2:]
        use = next(b for b in call["content"] if b["type"] == "tool_use")
        assert use["name"] == tool
        block = result["content"][0]
        assert block["type"] == "tool_result" and block["tool_use_id"] == use["id"]
        assert OUTPUT in json.dumps(block["content"])
    return call
