"""Every built-in provider spec, as data: its renames, exclusions and unsupported fields
name real request fields (a typo in providers.toml fails here, not at a customer's
upstream), and each spec builds a request that its wire protocol's fake upstream answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from tokenport.lab.fake import FakeUpstream
from tokenport.providers.anthropic import AnthropicProvider
from tokenport.providers.openai_compat import OpenAICompatProvider, build_body
from tokenport.providers.registry import builtin_specs
from tokenport.values import ChatRequest, Message, Pricing, ProviderSpec, Route

SPECS = builtin_specs()
# The fields a request can carry toward an upstream: the chat request's own, and the
# OpenAI names the adapters rename them to or add (`stream_options` for usage in streams).
REQUEST_FIELDS = set(ChatRequest.__struct_fields__) | {"stream_options", "random_seed"}


def _request(**fields: object) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[Message(role="user", content="hello there")],
        max_tokens=8,
        temperature=0.5,
        seed=7,
        user="u",
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_field_names_are_real_request_fields(name: str) -> None:
    spec = SPECS[name]
    for group, fields in (
        ("exclude", spec.exclude),
        ("unsupported", spec.unsupported),
        ("renames", list(spec.renames)),
    ):
        unknown = sorted(set(fields) - REQUEST_FIELDS)
        assert not unknown, f"providers.{name}.{group} names unknown fields {unknown}"


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.protocol == "openai"))
def test_openai_specs_build_what_they_declare(name: str) -> None:
    spec = SPECS[name]
    route = Route(name, "up-model", f"{name}/m", Pricing())
    body = msgspec.json.decode(build_body(spec, _request(stream=True), route, stream=True))
    for field in spec.exclude:
        assert field not in body, f"{name} sent excluded {field}"
    for old, new in spec.renames.items():
        assert old not in body and (new in body or old not in _request().__struct_fields__)
    assert body["model"] == "up-model" and body["stream"] is True
    assert ("stream_options" in body) == spec.capabilities.stream_usage


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as upstream:
        yield upstream


@pytest.mark.parametrize("name", sorted(SPECS))
async def test_each_spec_talks_to_its_protocols_fake(fake: FakeUpstream, name: str) -> None:
    spec = SPECS[name]
    pointed = msgspec.structs.replace(
        spec, base_url=fake.base_url if spec.protocol == "anthropic" else fake.base_url + "/v1"
    )
    provider = _adapter(pointed)
    try:
        route = Route(name, "fake-model", f"{name}/fake-model", Pricing())
        resp = await provider.chat(_request(), route, 5.0)
    finally:
        await provider.aclose()
    assert resp.choices[0].message.content == "Hello from the fake upstream."
    sent = fake.last_request
    assert sent.path.endswith("/messages" if spec.protocol == "anthropic" else "/completions")
    assert sent.headers.get("authorization") == "Bearer k" or sent.headers.get("x-api-key") == "k"
    for field in spec.exclude:
        assert field not in sent.body


def _adapter(spec: ProviderSpec) -> OpenAICompatProvider | AnthropicProvider:
    if spec.protocol == "anthropic":
        return AnthropicProvider(spec, "k")
    return OpenAICompatProvider(spec, "k")
