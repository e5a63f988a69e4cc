"""Providers as data: the built-in table, merged with the user's config, made into adapters.

Adapters are chosen by wire protocol, never by provider name, so there is no
`if provider == "x"` anywhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.config import LocalModelConfig, ProviderConfig, Settings
from tokenport.economics.settings import economics_of
from tokenport.errors import ConfigError
from tokenport.providers.anthropic import AnthropicProvider
from tokenport.providers.base import Provider, ProviderState
from tokenport.providers.deployments import EnergyRate, profile
from tokenport.providers.gemini import GeminiProvider
from tokenport.providers.openai_compat import OpenAICompatProvider
from tokenport.tokens import bundled_gguf
from tokenport.values import (
    Capabilities,
    Continuation,
    Parameter,
    Pricing,
    ProviderSpec,
    Quantization,
)

LOCAL = "local"
_ADAPTERS: dict[str, Callable[[ProviderSpec, str | None], Provider]] = {
    "openai": OpenAICompatProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
}


def builtin_specs() -> dict[str, ProviderSpec]:
    text = resources.files("tokenport.providers").joinpath("providers.toml").read_text("utf-8")
    return {name: _spec(name, fields) for name, fields in tomllib.loads(text).items()}


def _spec(name: str, fields: dict[str, Any]) -> ProviderSpec:
    """A provider's fields as a checked `ProviderSpec`; a bad value is a ConfigError."""
    try:
        spec = msgspec.convert({"name": name, **fields}, ProviderSpec)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"providers.{name}: {exc}") from None
    _check_parameters(spec)
    return spec


def _check_parameters(spec: ProviderSpec) -> None:
    """A parameter the provider drops or refuses cannot also be one it supports."""
    dropped = set(spec.exclude) | set(spec.unsupported)
    for where, policy in [
        ("", spec.policy()),
        *((f".endpoints.{m!r}", spec.policy(m)) for m in spec.endpoints),
    ]:
        both = sorted(dropped & set(policy.supported_parameters or ()))
        if both:
            raise ConfigError(
                f"providers.{spec.name}{where}.supported_parameters: {', '.join(both)} "
                "also in exclude/unsupported (the provider drops or refuses them)"
            )


_POLICY_FIELDS = ("data_collection", "zdr", "quantization", "supported_parameters")


def _merge(base: ProviderSpec | None, name: str, cfg: ProviderConfig) -> ProviderSpec:
    fields: dict[str, Any] = msgspec.structs.asdict(base) if base else {"name": name}
    for key in (
        "base_url",
        "protocol",
        "key_env",
        "display_name",
        "renames",
        "exclude",
        "unsupported",
        "headers",
        "region",
        "reasoning",
        *_POLICY_FIELDS,
    ):
        value = getattr(cfg, key)
        if value is not None:
            fields[key] = value
    for model, own in cfg.endpoints.items():
        endpoints = fields.setdefault("endpoints", {})
        before = endpoints.get(model)
        merged = msgspec.to_builtins(before) if before is not None else {}
        endpoints[model] = {**merged, **own.model_dump(exclude_none=True)}
    if cfg.capabilities:
        known = set(Capabilities.__struct_fields__)
        unknown = sorted(set(cfg.capabilities) - known)
        if unknown:
            raise ConfigError(
                f"providers.{name}.capabilities: unknown {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        base_caps = fields.get("capabilities")
        caps = msgspec.to_builtins(base_caps) if base_caps is not None else {}
        fields["capabilities"] = {**caps, **cfg.capabilities}
    if cfg.continuation is not None:
        fields["continuation"] = cfg.continuation.model_dump(exclude_none=True)
    if not fields.get("base_url"):
        raise ConfigError(f"providers.{name}: `base_url` is required for a new provider")
    return _spec(name, {k: v for k, v in msgspec.to_builtins(fields).items() if k != "name"})


def gguf_quantization(filename: str) -> Quantization:
    """OpenRouter's name for a GGUF file's quantization, read from its conventional name
    (`...Q4_1.gguf`, `...Q8_0.gguf`, `...F16.gguf`); "unknown" where it has none (Q5, Q6, ...)."""
    stem = filename.rsplit(".gguf", 1)[0].upper()
    tag = stem.replace("-", ".").rsplit(".", 1)[-1]
    for prefix, name in _GGUF_QUANT:
        if tag.startswith(prefix):
            return name
    return "unknown"


_GGUF_QUANT: tuple[tuple[str, Quantization], ...] = (
    ("IQ4", "int4"),
    ("Q4", "int4"),
    ("Q8", "int8"),
    ("BF16", "bf16"),
    ("F16", "fp16"),
    ("F32", "fp32"),
)


def local_spec(base_url: str, gguf_name: str = "") -> ProviderSpec:
    # Nothing leaves the machine: no one collects or retains the prompts. The quantization
    # is the GGUF's (the bundled SmolLM2 file is Q4_1: int4).
    return ProviderSpec(
        name=LOCAL,
        base_url=base_url.rstrip("/") + "/v1",
        display_name="Local llama.cpp",
        region="local",
        data_collection="deny",
        zdr=True,
        quantization=gguf_quantization(gguf_name),
        supported_parameters=frozenset(LOCAL_PARAMETERS),
        # Its chat endpoint always opens a new turn: a cut answer is continued by raw
        # completion of the prompt its own chat template makes (stream resume).
        continuation=Continuation(mode="completion"),
    )


# What llama.cpp's OpenAI-compatible server honours (llama-cpp-python's server).
LOCAL_PARAMETERS: tuple[Parameter, ...] = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
)


def local_entry(cfg: LocalModelConfig) -> ModelEntry:
    return ModelEntry(
        id=f"{LOCAL}/{cfg.model_id}",
        provider=LOCAL,
        upstream_id=cfg.model_id,
        slug=cfg.model_id,
        name="SmolLM2 135M Instruct (local, llama.cpp)",
        author="huggingface",
        country="US",
        pricing=Pricing(0.0, 0.0),
        context_length=cfg.n_ctx,
        open_weights=True,
        tool_call=False,
    )


def config_entries(name: str, cfg: ProviderConfig, kind: str = "chat") -> list[ModelEntry]:
    return [
        ModelEntry(
            id=f"{name}/{m.id}",
            provider=name,
            upstream_id=m.id,
            slug=(m.slug or m.id.rsplit("/", 1)[-1]).lower(),
            name=m.name or m.id,
            author=m.author or "unknown",
            country=m.country or "??",
            pricing=Pricing(m.input_price, m.output_price, m.cache_read_price, m.cache_write_price),
            context_length=m.context_length,
            max_output=m.max_output,
        )
        for m in cfg.models
        if m.kind == kind
    ]


@dataclass(slots=True)
class Registry:
    providers: dict[str, Provider]
    states: dict[str, ProviderState]
    specs: dict[str, ProviderSpec]
    extra_entries: list[ModelEntry]
    energy: dict[str, EnergyRate]
    extra_embeddings: list[ModelEntry]


def build_registry(
    settings: Settings, env: Mapping[str, str], local_base_url: str | None
) -> Registry:
    specs = builtin_specs()
    extra: list[ModelEntry] = []
    embeddings: list[ModelEntry] = []
    costs: dict[str, Pricing] = {}
    energy: dict[str, EnergyRate] = {}
    econ = economics_of(settings)
    for name, cfg in settings.providers.items():
        if cfg.enabled and cfg.deployment is not None:
            costs[name], energy[name] = profile(name, cfg.deployment, econ)
        if not cfg.enabled:
            specs.pop(name, None)
            continue
        specs[name] = _merge(specs.get(name), name, cfg)
        extra.extend(config_entries(name, cfg))
        embeddings.extend(config_entries(name, cfg, "embedding"))
    if local_base_url and settings.local.enabled:
        gguf = settings.local.model_path or str(bundled_gguf() or "")
        specs[LOCAL] = local_spec(local_base_url, Path(gguf).name)
        extra.append(local_entry(settings.local))
    providers: dict[str, Provider] = {}
    states: dict[str, ProviderState] = {}
    for name, spec in specs.items():
        key = env.get(spec.key_env) if spec.key_env else None
        # Self-hosted servers declare no key_env and are always usable.
        available = key is not None or spec.key_env is None
        user = settings.providers.get(name)
        states[name] = ProviderState(
            name,
            available,
            frozenset(spec.unsupported),
            None if available else spec.key_env,
            rtt_ms=user.rtt_ms if user else None,
            cost=costs.get(name),
            policy=spec.policy(),
            endpoints={m: spec.policy(m) for m in spec.endpoints},
        )
        if available:
            providers[name] = _ADAPTERS[spec.protocol](spec, key)
    return Registry(providers, states, specs, extra, energy, embeddings)
