"""The one seam: unknown plugins are a 400 naming the known ones; what applies when."""

from __future__ import annotations

import pytest

from tokenport.config import PluginsConfig
from tokenport.errors import BadRequest
from tokenport.plugins import KNOWN, Plugins
from tokenport.values import ChatRequest, Message


def req(plugins: list[str], **kw: object) -> ChatRequest:
    return ChatRequest("m", [Message("user", "hi")], plugins=plugins, **kw)  # type: ignore[arg-type]


async def test_unknown_plugin_names_the_known_ones() -> None:
    with pytest.raises(BadRequest) as caught:
        await Plugins(PluginsConfig()).apply(req(["web", "response-healing"]))
    assert "'web'" in caught.value.message
    assert caught.value.allowed == KNOWN and caught.value.param == "plugins"
    assert all(k in caught.value.message for k in KNOWN)


async def test_healing_hooks_only_non_streamed_json_answers() -> None:
    plugins = Plugins(PluginsConfig())
    json_fmt = {"type": "json_object"}
    hooked = await plugins.apply(req(["response-healing"], response_format=json_fmt))
    assert hooked.on_answer is not None and [u.id for u in hooked.uses] == ["response-healing"]
    streamed = await plugins.apply(req(["response-healing"], response_format=json_fmt, stream=True))
    assert streamed.on_answer is None and streamed.uses == []
    text = await plugins.apply(req(["response-healing"]))
    assert text.on_answer is None
