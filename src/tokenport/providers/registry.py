"""Providers as data: the built-in table, merged with the user's config, made into adapters.

Adapters are chosen by wire protocol, never by provider name, so there is no
`if provider == "x"` anywhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec

from tokenport.catalog.model import ModelEntry
from tokenport.config import LocalModelConfig, ProviderConfig, Settings
from tokenport.economics.settings import economics_of
from tokenport.errors import ConfigError
from tokenport.providers.anthropic import AnthropicProvider
from tokenport.providers.base import Provider, ProviderState
from tokenport.providers.deployments import EnergyRate, profile
from tokenport.providers.openai_compat import OpenAICompatProvider
from tokenport.values import Capabilities, Continuation, Pricing, ProviderSpec

LOCAL = "local"
_ADAPTERS: dict[str, Callable[[ProviderSpec, str | None], Provider]] = {
    "openai": OpenAICompatProvider,
    "anthropic": AnthropicProvider,
}


def builtin_specs() -> dict[str, ProviderSpec]:
    text = resources.files("tokenport.providers").joinpath("providers.toml").read_text("utf-8")
    return {
        name: msgspec.convert({"name": name, **fields}, ProviderSpec)
        for name, fields in tomllib.loads(text).items()
    }


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
    ):
        value = getattr(cfg, key)
        if value is not None:
            fields[key] = value
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
    return msgspec.convert(fields, ProviderSpec)


def local_spec(base_url: str) -> ProviderSpec:
    return ProviderSpec(
        name=LOCAL,
        base_url=base_url.rstrip("/") + "/v1",
        display_name="Local llama.cpp",
        region="local",
        # Its chat endpoint always opens a new turn: a cut answer is continued by raw
        # completion of the prompt its own chat template makes (stream resume).
        continuation=Continuation(mode="completion"),
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
        specs[LOCAL] = local_spec(local_base_url)
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
        )
        if available:
            providers[name] = _ADAPTERS[spec.protocol](spec, key)
    return Registry(providers, states, specs, extra, energy, embeddings)
