"""A held (already complete) answer replayed as a stream.

In a streamed cascade the cheap answer is called whole and held until its verifiers trust it;
then it goes to the client through the same relay, codecs and settlement as any upstream
stream. The chunks are what an OpenAI-compatible upstream sends: the role, the reasoning
(if any), the text in one piece, the finish, then usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tokenport.gateway import OpenStream, Prior, RequestContext, Served
from tokenport.values import Attempt, ChatRequest, Chunk, Delta


def chunks(served: Served, logprobs: bool) -> list[Chunk]:
    choice = served.response.choices[0] if served.response.choices else None
    out = [Chunk(delta=Delta(role="assistant", content=""))]
    if choice is not None:
        message = choice.message
        if message.reasoning_content:
            out.append(Chunk(delta=Delta(reasoning_content=message.reasoning_content)))
        text = message.content if isinstance(message.content, str) else ""
        if text:
            out.append(
                Chunk(
                    delta=Delta(content=text),
                    logprobs=choice.logprobs if logprobs else None,
                )
            )
        out.append(Chunk(delta=Delta(), finish_reason=choice.finish_reason or "stop"))
    else:
        out.append(Chunk(delta=Delta(), finish_reason="stop"))
    out.append(Chunk(usage=served.usage))
    return out


async def _iterate(items: list[Chunk]) -> AsyncIterator[Chunk]:
    for item in items:
        yield item


def held_stream(
    request: ChatRequest,
    ctx: RequestContext,
    served: Served,
    attempts: list[Attempt],
    prior: Prior,
    logprobs: bool,
) -> OpenStream:
    """The held answer as an `OpenStream`; its first byte leaves now, so TTFT is now."""
    items = chunks(served, logprobs)
    prior.answer_health_recorded = True  # `Gateway.call` recorded it when the answer arrived
    return OpenStream(
        request,
        ctx,
        served.route,
        items[0],
        _iterate(items[1:]),
        attempts,
        ctx.elapsed_ms(),
        prior=prior,
    )
