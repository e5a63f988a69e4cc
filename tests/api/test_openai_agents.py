"""openai-agents: an Agent with a function tool on its default model (the Responses API),
through the gateway to an OpenAI-compatible and to an Anthropic fake upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tokenport.lab.fake import FakeUpstream, Script

CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    CALLS.append(city)
    return f"sunny in {city}"


@pytest.mark.parametrize("model", ["fakeoa/fake-model", "antx/fake-claude"])
def test_agent_with_function_tool(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, model: str
) -> None:
    script = Script(
        tool_name="get_weather",
        tool_arguments='{"city": "Paris"}',
        after_tool_result="Agent says: {result}",
    )
    fake.set_script(script)
    fake2.set_script(script)
    # openai-agents reads `a/b` as provider `a`: agents name a gateway alias instead.
    gw = gateway_factory({"fakeoa": fake, "antx": fake2}, aliases={"weather-model": model})
    set_tracing_disabled(True)  # tracing would upload to OpenAI
    client = AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="sk-unused", max_retries=0)
    # The SDK's default: a model name served by OpenAIResponsesModel on the default client.
    set_default_openai_client(client, use_for_tracing=False)
    agent = Agent(
        name="weather",
        instructions="Answer with the tool's result.",
        tools=[get_weather],
        model="weather-model",
    )
    CALLS.clear()
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert CALLS == ["Paris"]
    assert result.final_output == "Agent says: sunny in Paris"
    upstream = fake if model.startswith("fakeoa") else fake2
    assert len(upstream.requests) == 2
    assert "sunny in Paris" in json.dumps(upstream.requests[-1].body["messages"][-1])
