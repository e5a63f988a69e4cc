from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tokenport.cli import app
from tokenport.config import load_settings
from tokenport.errors import ConfigError
from tokenport.providers.registry import build_registry

GOOD = """
port = 9000
database_url = "sqlite:///tmp/x.db"
[local]
enabled = false
[providers.deepseek]
region = "cn-east"
[providers.myvllm]
base_url = "http://127.0.0.1:8001/v1"
models = [{ id = "qwen3-8b", input_price = 0.01, output_price = 0.02, context_length = 32768 }]
"""


def test_loads_file_and_env_overrides(tmp_path: Path) -> None:
    f = tmp_path / "tokenport.toml"
    f.write_text(GOOD)
    s = load_settings(f, env={"TOKENPORT_PORT": "9100"})
    assert s.port == 9100 and s.local.enabled is False
    assert s.providers["myvllm"].models[0].context_length == 32768


def test_errors_name_every_bad_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('port = "eighty"\ntypo_key = 1\n[providers.x]\nbase_url = "ftp://nope"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(f, env={})
    msg = err.value.message
    assert "port" in msg and "typo_key" in msg and "providers.x.base_url" in msg


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(f, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})


def test_missing_key_means_unavailable_not_crash(tmp_path: Path) -> None:
    f = tmp_path / "tokenport.toml"
    f.write_text(GOOD)
    s = load_settings(f, env={})
    reg = build_registry(s, {"OPENAI_API_KEY": "sk-x"}, local_base_url=None)
    assert reg.states["openai"].available and "openai" in reg.providers
    assert not reg.states["deepseek"].available
    assert reg.states["deepseek"].missing_key_env == "DEEPSEEK_API_KEY"
    assert reg.states["myvllm"].available  # self-hosted: no key needed
    assert reg.specs["deepseek"].region == "cn-east"  # user override merged into built-in
    assert [e.id for e in reg.extra_entries] == ["myvllm/qwen3-8b"]


def test_new_provider_needs_base_url(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text("[providers.newone]\nkey_env = 'X'\n")
    with pytest.raises(ConfigError, match="base_url"):
        build_registry(load_settings(f, env={}), {}, None)


def test_config_check_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    result = CliRunner().invoke(app, ["config", "check", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "Configuration OK" in result.output and "DEEPSEEK_API_KEY" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("port = -1\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == 2 and "port" in result.output


def test_config_check_does_not_show_the_local_model_at_port_0(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(f'database_url = "sqlite:///{tmp_path}/x.db"\n')  # the local model is on
    wide = {"COLUMNS": "200"}
    result = CliRunner().invoke(app, ["config", "check", "--config", str(f)], env=wide)
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:0" not in result.output and "a free loopback port" in result.output


def test_economics_overrides_reach_the_api_and_routing_costs(
    tmp_path: Path, fake: Any, gateway_factory: Any
) -> None:
    from _helpers import http_json

    econ = {"regions": {"cn-west": {"usd_per_kwh": 0.01}}}
    gw = gateway_factory({"fakeoa": fake}, economics=econ)
    status, body = http_json(
        "GET", gw.base_url + "/api/v1/economics?model=Llama-3.1-70B&gpu=H100&region=cn-west"
    )
    assert status == 200 and body["usd_per_kwh"] == pytest.approx(0.01)


def test_bad_economics_override_names_the_field(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text("[local]\nenabled = false\n[economics.regions.cn-west]\npue = 0.5\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(f)])
    assert result.exit_code == 2 and "economics.regions.cn-west.pue" in result.output
