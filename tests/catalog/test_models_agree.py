"""`tokenport models` lists what `GET /v1/models` serves: the same ids, the local model and
the config's own providers included, and the same availability."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from _helpers import http_json
from conftest import start_gateway
from tokenport.cli.catalog import register
from tokenport.config import load_settings


def _key_vars() -> list[str]:
    from tokenport.providers.registry import builtin_specs

    return [s.key_env for s in builtin_specs().values() if s.key_env]


_KEY_VARS = _key_vars()


def test_models_command_agrees_with_v1_models(tmp_path: Path) -> None:
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[providers.myvllm]\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = [{ id = "Qwen/Qwen3-8B", input_price = 0.02, output_price = 0.06 }]\n'
        '[providers.deepseek]\nregion = "cn"\n'
    )
    env = {"TOKENPORT_CONFIG": str(cfg), "DEEPSEEK_API_KEY": "sk-test"}
    settings = load_settings(cfg, env={})
    gw = start_gateway(settings, local_base_url="http://127.0.0.1:9", env=env)
    try:
        status, body = http_json("GET", gw.base_url + "/v1/models")
    finally:
        gw.stop()
    assert status == 200
    served = {m["id"]: m["available"] for m in body["data"]}

    app = typer.Typer()
    register(app)
    # The gateway saw only `env`; so does the command (None unsets a variable).
    cli_env: dict[str, str | None] = {**dict.fromkeys(_KEY_VARS), **env}
    result = CliRunner().invoke(app, ["models", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    listed = {m["id"]: m["available"] for m in json.loads(result.stdout)}

    assert listed == served
    assert listed["local/smollm2-135m-instruct"] is True
    assert listed["myvllm/Qwen/Qwen3-8B"] is True
    assert listed["deepseek/deepseek-chat"] is True
    assert listed["anthropic/claude-sonnet-4-5"] is False  # no key in this environment

    usable = CliRunner().invoke(app, ["models", "--json", "--available"], env=cli_env)
    assert {m["id"] for m in json.loads(usable.stdout)} == {i for i, ok in served.items() if ok}
