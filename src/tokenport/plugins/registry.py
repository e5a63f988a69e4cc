"""Which plugins exist, and the one call that applies a request's plugins."""

from __future__ import annotations

import functools
from collections.abc import Callable

from tokenport.config import PluginsConfig
from tokenport.errors import BadRequest
from tokenport.plugins import healing
from tokenport.plugins.file_parser import FileParser
from tokenport.values import ChatRequest, ChatResponse, PluginUse

HEALING = "response-healing"
FILE_PARSER = "file-parser"
KNOWN: tuple[str, ...] = (FILE_PARSER, HEALING)

AnswerHook = Callable[[ChatRequest, ChatResponse], None]


class Applied:
    """What a request's plugins did before routing, and the hook to run on its answer."""

    def __init__(self) -> None:
        self.uses: list[PluginUse] = []
        self.on_answer: AnswerHook | None = None


class Plugins:
    def __init__(self, config: PluginsConfig) -> None:
        self.file_parser = FileParser(config)

    async def apply(self, request: ChatRequest) -> Applied:
        """Check the request's plugin ids, run those that change the request (file-parser),
        and return the uses so far and the answer hook (response-healing)."""
        ids = request.plugins or []
        unknown = [i for i in ids if i not in KNOWN]
        if unknown:
            raise BadRequest(
                f"Unknown plugin {', '.join(repr(u) for u in unknown)}; "
                f"tokenport knows: {', '.join(KNOWN)}.",
                param="plugins",
                allowed=KNOWN,
            )
        applied = Applied()
        if FILE_PARSER in ids:
            applied.uses.append(await self.file_parser.apply(request))
        if HEALING in ids and not request.stream and healing.wants_json(request):
            use = PluginUse(HEALING, healed=False)
            applied.uses.append(use)
            applied.on_answer = functools.partial(_heal, use)
        return applied


def _heal(use: PluginUse, request: ChatRequest, response: ChatResponse) -> None:
    use.healed = healing.heal(request, response)
