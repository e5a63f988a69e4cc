"""Stream resume's pieces on their own: the partial answer, who can continue it, the
continuation request, and the continuation's chunks as the client must see them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from tokenport.gateway.resume import Partial, continuation, continued, resumable
from tokenport.values import ChatRequest, Chunk, Continuation, Delta, Message, ProviderSpec
from tokenport.wire.openai_chat import chat_upstream_body


def spec(mode: str | None, **kw: bool) -> ProviderSpec:
    cont = msgspec.convert({"mode": mode, **kw}, Continuation) if mode else None
    return ProviderSpec(name="p", base_url="http://p", continuation=cont)


def chunks(*deltas: Delta) -> list[Chunk]:
    return [Chunk(delta=d) for d in deltas]


REQUEST = ChatRequest(model="m", messages=[Message(role="user", content="hi")], max_tokens=100)


def test_the_partial_answer_is_rebuilt_from_what_was_sent() -> None:
    p = Partial.of(
        chunks(
            Delta(role="assistant", content=""),
            Delta(reasoning_content="think "),
            Delta(content="Hel"),
            Delta(content="lo"),
            Delta(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "f"}}]),
            Delta(tool_calls=[{"index": 0, "function": {"arguments": '{"a"'}}]),
        )
    )
    assert (p.content, p.reasoning) == ("Hello", "think ")
    assert p.calls[0]["id"] == "c1" and p.calls[0]["function"] == {"name": "f", "arguments": '{"a"'}
    assert not p.in_reasoning()
    assert Partial.of(chunks(Delta(role="assistant"))).empty()
    assert Partial.of(chunks(Delta(reasoning_content="hmm"))).in_reasoning()


def test_who_can_resume_what() -> None:
    text = Partial(content="Hello")
    thinking = Partial(reasoning="hmm")
    call = Partial(calls={0: {"id": "c", "function": {"name": "f", "arguments": "{"}}})
    assert resumable(spec(None), Partial())  # nothing sent: a plain retry anywhere
    assert not resumable(spec(None), text)
    assert resumable(spec("prefill"), text)
    assert not resumable(spec("prefill"), thinking)
    assert resumable(spec("prefix", reasoning=True), thinking)
    assert not resumable(spec("prefix", reasoning=True), call)
    assert resumable(spec("prefix", tool_arguments=True), call)


def test_the_continuation_request_in_each_upstreams_words() -> None:
    p = Partial(content="Hello ", reasoning="because")
    for mode, key in (("prefix", "prefix"), ("partial", "partial")):
        request, trim = continuation(REQUEST, p, spec(mode), used_tokens=30)
        body = msgspec.json.decode(chat_upstream_body(spec(mode), request, "m", True))
        last = body["messages"][-1]
        assert last == {"role": "assistant", "content": "Hello ", key: True} and trim == ""
        assert body["max_tokens"] == 70  # what the answer has left
    request, _ = continuation(REQUEST, p, spec("continue_final_message", reasoning=True), 0)
    body = msgspec.json.decode(
        chat_upstream_body(spec("continue_final_message"), request, "m", True)
    )
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["messages"][-1]["reasoning_content"] == "because"
    assert "prefix" not in body["messages"][-1]
    request, trim = continuation(REQUEST, p, spec("prefill"), 0)
    assert request.messages[-1].content == "Hello" and trim == " "
    # The original request is left as it was.
    assert len(REQUEST.messages) == 1 and REQUEST.max_tokens == 100
    assert continuation(REQUEST, Partial(), spec(None), 0) == (REQUEST, "")


async def _collect(upstream: list[Chunk], partial: Partial, trim: str) -> list[Chunk]:
    async def gen() -> AsyncIterator[Chunk]:
        for c in upstream:
            yield c

    return [c async for c in continued(gen(), partial, trim)]


async def test_the_continuation_reads_as_the_same_answer_going_on() -> None:
    call = {0: {"id": "c", "function": {"name": "f", "arguments": "{"}}}
    got = await _collect(
        [
            Chunk(delta=Delta(role="assistant", content="")),
            Chunk(delta=Delta(content=" world")),
            Chunk(
                delta=Delta(tool_calls=[{"index": 0, "id": "x", "function": {"arguments": "}"}}])
            ),
            Chunk(finish_reason="stop"),
        ],
        Partial(content="Hello ", calls=call),
        " ",
    )
    deltas = [c.delta for c in got]
    assert deltas[0] == Delta(content="world")  # no role again; the prefill's space once
    assert deltas[1] == Delta(tool_calls=[{"index": 0, "function": {"arguments": "}"}}])
    assert got[2].finish_reason == "stop" and len(got) == 3
