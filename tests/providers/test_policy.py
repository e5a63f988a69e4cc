"""Provider data as OpenRouter models it: declared for every built-in provider, checked at
load with clear errors, overridable per provider and per model, carried onto routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.config import load_settings
from tokenport.errors import ConfigError
from tokenport.providers.registry import (
    build_registry,
    builtin_specs,
    gguf_quantization,
    local_spec,
)
from tokenport.values import EndpointPolicy


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_every_builtin_provider_declares_its_data_policy(name: str) -> None:
    p = builtin_specs()[name].policy()
    assert p.data_collection in ("allow", "deny")
    assert p.zdr is not None and p.quantization is not None and p.region
    assert p.supported_parameters, f"{name} lists no supported_parameters"


def test_endpoint_entries_override_the_provider() -> None:
    spec = builtin_specs()["moonshotai"]
    assert spec.policy().quantization == "fp8"
    own = spec.policy("kimi-k2-thinking")
    assert own.quantization == "int4" and own.data_collection == spec.policy().data_collection


def test_local_llama_cpp_keeps_everything_and_names_its_gguf_quantization() -> None:
    p = local_spec("http://127.0.0.1:1", "SmolLM2-135M-Instruct.Q4_1.gguf").policy()
    assert (p.data_collection, p.zdr, p.quantization, p.region) == ("deny", True, "int4", "local")
    assert gguf_quantization("model-Q8_0.gguf") == "int8"
    assert gguf_quantization("model.BF16.gguf") == "bf16"
    assert gguf_quantization("model-f16.gguf") == "fp16"
    assert gguf_quantization("model-Q5_K_M.gguf") == "unknown"
    assert gguf_quantization("") == "unknown"


def _load(tmp_path: Path, text: str) -> object:
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(text)
    return load_settings(cfg, env={})


def test_config_overrides_a_builtin_provider_and_one_model(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """
[providers.deepseek]
data_collection = "deny"   # e.g. an enterprise agreement
zdr = true

[providers.deepseek.endpoints."deepseek-reasoner"]
quantization = "bf16"
supported_parameters = ["max_tokens", "reasoning"]

[providers.mine]
base_url = "http://127.0.0.1:9/v1"
quantization = "fp8"
region = "eu"
models = [{ id = "m" }]
""",
    )
    reg = build_registry(settings, {"DEEPSEEK_API_KEY": "x"}, None)  # type: ignore[arg-type]
    ds = reg.states["deepseek"]
    assert ds.policy is not None and (ds.policy.data_collection, ds.policy.zdr) == ("deny", True)
    assert ds.policy.quantization == "fp8"  # the built-in value where not overridden
    reasoner = ds.policy_of("deepseek-reasoner")
    assert reasoner == EndpointPolicy(
        "deny", True, "bf16", frozenset({"max_tokens", "reasoning"}), "cn"
    )
    mine = reg.states["mine"].policy_of("m")
    assert mine is not None and (mine.quantization, mine.region) == ("fp8", "eu")
    assert mine.data_collection is None  # undeclared: the privacy filters exclude it


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[providers.deepseek]\nquantization = "fp9"', "providers.deepseek.quantization"),
        ('[providers.deepseek]\ndata_collection = "maybe"', "providers.deepseek.data_collection"),
        (
            '[providers.deepseek]\nsupported_parameters = ["tools", "tempreature"]',
            "providers.deepseek.supported_parameters",
        ),
        (
            '[providers.deepseek.endpoints.x]\nzdr = "sometimes"',
            "providers.deepseek.endpoints.x.zdr",
        ),
        ("[routing]\nsticky_ttl_s = -1", "routing.sticky_ttl_s"),
    ],
)
def test_bad_values_fail_at_load_naming_the_field(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert says in str(err.value)


def test_a_parameter_both_supported_and_excluded_fails_at_start(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        '[providers.minimax]\nsupported_parameters = ["tools", "seed"]',
    )
    with pytest.raises(ConfigError, match=r"providers.minimax.supported_parameters: seed also in"):
        build_registry(settings, {}, None)  # type: ignore[arg-type]
