"""The gateway's answer as an OpenAI Responses object, whole or as its event stream."""

from __future__ import annotations

from _grammar import check_responses, parse_sse
from tokenport.values import Chunk, Delta, Message, Usage
from tokenport.wire.responses_client_in import parse_responses_request
from tokenport.wire.responses_client_out import ResponsesEncoder, response_object


def test_a_whole_answer_lists_reasoning_then_message_then_calls() -> None:
    _, call = parse_responses_request(b'{"model": "m", "input": "hi"}')
    message = Message(
        role="assistant",
        content="Looking.",
        reasoning_content="hmm",
        tool_calls=[{"id": "c1", "function": {"name": "get", "arguments": '{"q": 1}'}}],
    )
    obj = response_object(call, "gen1", "alias", 1.0, message, "tool_calls", Usage(3, 4), 0.2)
    assert [item["type"] for item in obj["output"]] == ["reasoning", "message", "function_call"]
    assert obj["output"][1]["content"][0]["text"] == "Looking."
    assert obj["output"][2]["call_id"] == "c1" and obj["output"][2]["arguments"] == '{"q": 1}'
    assert obj["usage"]["input_tokens"] == 3 and obj["usage"]["output_tokens"] == 4
    assert obj["status"] == "completed"


def test_a_stream_keeps_the_responses_event_rules() -> None:
    _, call = parse_responses_request(b'{"model": "m", "input": "hi", "stream": true}')
    enc = ResponsesEncoder(call, "gen1", "alias", 1.0)
    out = b"".join(
        [
            enc.chunk(Chunk(delta=Delta(role="assistant", reasoning_content="hmm"))),
            enc.chunk(Chunk(delta=Delta(content="Hel"))),
            enc.chunk(Chunk(delta=Delta(content="lo"))),
            enc.chunk(
                Chunk(
                    delta=Delta(
                        tool_calls=[
                            {"index": 0, "id": "c1", "function": {"name": "get", "arguments": "{}"}}
                        ]
                    )
                )
            ),
            enc.chunk(Chunk(finish_reason="tool_calls")),
            enc.end(Usage(3, 4), None),
        ]
    )
    final = check_responses(parse_sse(out))
    assert [item["type"] for item in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][1]["content"][0]["text"] == "Hello"


def test_a_failed_stream_ends_with_response_failed() -> None:
    _, call = parse_responses_request(b'{"model": "m", "input": "hi", "stream": true}')
    enc = ResponsesEncoder(call, "gen1", "alias", 1.0)
    out = enc.chunk(Chunk(delta=Delta(content="partial"))) + enc.failed("upstream", "cut")
    final = check_responses(parse_sse(out))
    assert final["status"] == "failed" and final["error"]["code"] == "upstream"
