"""Helpers shared by the provider tests: requests, routes, adapters, stream collectors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import orjson

from tokenport.providers.anthropic import AnthropicProvider
from tokenport.providers.base import Provider
from tokenport.values import ChatRequest, Chunk, Message, Pricing, ProviderSpec, Route, Usage

API_KEY = "sk-ant-api03-SECRETSECRETSECRET1234567890"
PROMPT = [Message(role="system", content="You are terse."), Message(role="user", content="Say hi")]
PROMPT_WORDS = 5  # "You are terse." + "Say hi"
REPLY = "Hello from the fake upstream."
REPLY_WORDS = 5
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def chat_request(**fields: Any) -> ChatRequest:
    return ChatRequest(**{"model": "fake/model", "messages": list(PROMPT), **fields})


def route(upstream_model: str = "fake-model") -> Route:
    return Route(
        provider="fake", upstream_model=upstream_model, model_id="fake/model", pricing=Pricing()
    )


def make_provider(kind: str, base_url: str, api_key: str | None = API_KEY) -> Provider:
    if kind == "anthropic":
        spec = ProviderSpec(name="anthropic", base_url=base_url, protocol="anthropic")
        return AnthropicProvider(spec, api_key)
    from tokenport.providers.openai_compat import OpenAICompatProvider

    spec = ProviderSpec(name="openai_compat", base_url=base_url + "/v1", protocol="openai")
    return OpenAICompatProvider(spec, api_key)


async def collect(stream: AsyncIterator[Chunk], into: list[Chunk] | None = None) -> list[Chunk]:
    """Drain a stream; `into` keeps what arrived before an exception."""
    chunks = [] if into is None else into
    async for chunk in stream:
        chunks.append(chunk)
    return chunks


def text_of(chunks: list[Chunk]) -> str:
    return "".join(c.delta.content or "" for c in chunks if c.delta is not None)


def finish_of(chunks: list[Chunk]) -> str | None:
    reasons = [c.finish_reason for c in chunks if c.finish_reason is not None]
    assert len(reasons) <= 1, reasons
    return reasons[0] if reasons else None


def tool_calls_of(chunks: list[Chunk]) -> list[dict[str, Any]]:
    """Accumulate OpenAI-style tool_calls deltas into whole calls, as a client would."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for part in (chunk.delta.tool_calls or []) if chunk.delta else []:
            call = calls.setdefault(part["index"], {"function": {"name": "", "arguments": ""}})
            for key in ("id", "type"):
                if part.get(key):
                    call[key] = part[key]
            function = part.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


def arguments(call: dict[str, Any]) -> Any:
    return orjson.loads(call["function"]["arguments"])


class Outcome(NamedTuple):
    """One answer, the same shape whether it was streamed or not."""

    text: str
    finish: str | None
    usage: Usage | None
    tool_calls: list[dict[str, Any]]


async def outcome(
    provider: Provider,
    stream: bool,
    request: ChatRequest | None = None,
    timeout: float = 5.0,
    into: list[Chunk] | None = None,
) -> Outcome:
    request = request or chat_request()
    if not stream:
        resp = await provider.chat(request, route(), timeout)
        message = resp.choices[0].message
        assert isinstance(message.content, str | None)
        text, calls = message.content or "", message.tool_calls or []
        return Outcome(text, resp.choices[0].finish_reason, resp.usage, calls)
    chunks = await collect(provider.stream_chat(request, route(), timeout), into)
    with_usage = [i for i, c in enumerate(chunks) if c.usage is not None]
    assert with_usage in ([], [len(chunks) - 1]), "usage comes once, in the last chunk"
    usage = chunks[-1].usage if with_usage else None
    if usage is not None:
        assert chunks[-1].delta is None, "the usage chunk carries no delta"
    return Outcome(text_of(chunks), finish_of(chunks), usage, tool_calls_of(chunks))
