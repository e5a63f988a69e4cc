"""The gateway's answer as an OpenAI Responses object, whole or as its event stream.

    ChatResponse -> response object       `response_object`   (non-streamed)
    Chunks -> response.* events           `ResponsesEncoder`  (streamed)

Output items come in the order a reasoning model emits them: a `reasoning` item (with
the upstream's reasoning as `reasoning_text` content), a `message` with `output_text`,
then one `function_call` (or `custom_tool_call`) item per call. Item ids derive from the
generation id, so a stored response reads back with the ids the client saw. A stream
opens and closes one item at a time, and every event carries a `sequence_number`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tokenport.values import JSON, Chunk, Message, Thinking, Usage
from tokenport.wire.responses_client_in import (
    NAMESPACE_SEP,
    ResponsesCall,
    seal_thinking,
    unseal_thinking,
)
from tokenport.wire.sse import sse_frame
from tokenport.wire.tool_stream import CallSequencer, StreamedCall


def responses_usage_to_wire(usage: Usage, cost: float | None) -> JSON:
    wire: JSON = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }
    if cost is not None:
        wire["cost"] = cost
    if usage.estimated:
        wire["estimated"] = True
    return wire


def _base(call: ResponsesCall, gen_id: str, model: str, created: float) -> JSON:
    b = call.body
    return {
        "id": gen_id,
        "object": "response",
        "created_at": int(created),  # integer seconds, as OpenAI and OpenRouter send it
        "status": "in_progress",
        "model": model,
        "output": [],
        "instructions": b.instructions,
        "tools": b.tools or [],
        "tool_choice": b.tool_choice or "auto",
        "parallel_tool_calls": b.parallel_tool_calls if b.parallel_tool_calls is not None else True,
        "temperature": b.temperature,
        "top_p": b.top_p,
        # OpenRouter's result requires these, null when not set (the Responses body has none).
        "frequency_penalty": None,
        "presence_penalty": None,
        "completed_at": None,
        "max_output_tokens": b.max_output_tokens,
        "previous_response_id": b.previous_response_id,
        "reasoning": b.reasoning,
        "text": b.text or {"format": {"type": "text"}},
        "store": b.store,
        "metadata": b.metadata or {},
        "truncation": "disabled",
        "error": None,
        "incomplete_details": None,
        "usage": None,
    }


def _finished(obj: JSON, finish: str | None, usage: Usage, cost: float | None) -> JSON:
    incomplete = finish == "length"
    obj["status"] = "incomplete" if incomplete else "completed"
    obj["incomplete_details"] = {"reason": "max_output_tokens"} if incomplete else None
    obj["completed_at"] = int(time.time())
    obj["usage"] = responses_usage_to_wire(usage, cost)
    return obj


def reasoning_item(gen_id: str, text: str, thinking: list[Thinking] | None = None) -> JSON:
    item: JSON = {
        "type": "reasoning",
        "id": f"rs_{gen_id}",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
        "status": "completed",
    }
    sealed = seal_thinking(thinking or [])
    if sealed is not None:
        item["encrypted_content"] = sealed
    return item


def message_item(gen_id: str, text: str) -> JSON:
    return {
        "type": "message",
        "id": f"msg_{gen_id}",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def call_item(call: ResponsesCall, gen_id: str, i: int, call_id: str, name: str, args: str) -> JSON:
    """A chat tool call as the client's own kind of call item."""
    client_name, namespace = call.output_name(name)
    if name in call.custom:
        try:
            parsed = orjson.loads(args or "{}")
            tool_input = parsed.get("input", "") if isinstance(parsed, dict) else args
        except orjson.JSONDecodeError:
            tool_input = args
        item: JSON = {
            "type": "custom_tool_call",
            "id": f"ctc_{gen_id}_{i}",
            "call_id": call_id,
            "name": client_name,
            "input": str(tool_input),
            "status": "completed",
        }
    else:
        item = {
            "type": "function_call",
            "id": f"fc_{gen_id}_{i}",
            "call_id": call_id,
            "name": client_name,
            "arguments": args or "{}",
            "status": "completed",
        }
    if namespace is not None:
        item["namespace"] = namespace
    return item


def output_items(call: ResponsesCall, gen_id: str, message: Message) -> list[JSON]:
    items: list[JSON] = []
    if message.reasoning_content or message.thinking:
        items.append(reasoning_item(gen_id, message.reasoning_content or "", message.thinking))
    text = message.content if isinstance(message.content, str) else ""
    if text:
        items.append(message_item(gen_id, text))
    for i, tc in enumerate(message.tool_calls or ()):
        fn = tc.get("function") or {}
        items.append(
            call_item(
                call,
                gen_id,
                i,
                str(tc.get("id") or f"call_{gen_id}_{i}"),
                str(fn.get("name") or ""),
                str(fn.get("arguments") or ""),
            )
        )
    return items


def response_object(
    call: ResponsesCall,
    gen_id: str,
    model: str,
    created: float,
    message: Message,
    finish: str | None,
    usage: Usage,
    cost: float | None,
) -> JSON:
    obj = _base(call, gen_id, model, created)
    obj["output"] = output_items(call, gen_id, message)
    return _finished(obj, finish, usage, cost)


class ResponsesEncoder:
    """Builds the client's `response.*` event stream from the gateway's chunks."""

    def __init__(self, call: ResponsesCall, gen_id: str, model: str, created: float) -> None:
        self.call = call
        self.gen_id = gen_id
        self.response = _base(call, gen_id, model, created)
        self.seq = 0
        self.item: JSON | None = None  # the output item open now
        self.text: list[str] = []  # what the open item has received
        self.thinking: list[Thinking] = []  # the open reasoning item's blocks, as signed
        self.finish: str | None = None
        self.calls = CallSequencer(
            lambda i: f"call_{gen_id}_{i}", self._open_call, self._arguments, self._close
        )
        self._out: list[bytes] = []
        self._started = False

    @property
    def output(self) -> list[JSON]:
        return list(self.response["output"])

    def chunk(self, chunk: Chunk) -> bytes:
        self._start()
        d = chunk.delta
        if d is not None and chunk.index == 0:
            if d.reasoning_content:
                self._reasoning(d.reasoning_content)
            if d.signature:
                self._signed(d.signature)
            if d.redacted_thinking is not None:
                self._open_reasoning()
                self.thinking.append(Thinking(redacted=d.redacted_thinking))
            if d.content:
                self._text(d.content)
            for tc in d.tool_calls or ():
                self.calls.feed(tc)
        if chunk.finish_reason and chunk.index == 0:
            self.finish = chunk.finish_reason
        return self._flush()

    def end(self, usage: Usage, cost: float | None) -> bytes:
        self._start()
        self._close()
        self.calls.flush()
        obj = _finished(dict(self.response), self.finish, usage, cost)
        self.response = obj
        kind = "response.incomplete" if obj["status"] == "incomplete" else "response.completed"
        self._emit(kind, {"response": obj})
        return self._flush()

    def failed(self, code: str, message: str) -> bytes:
        self._start()
        self._close()
        obj = dict(self.response)
        obj["status"] = "failed"
        obj["error"] = {"code": code, "message": message}
        self._emit("response.failed", {"response": obj})
        return self._flush()

    # -- items ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._emit("response.created", {"response": dict(self.response)})
        self._emit("response.in_progress", {"response": dict(self.response)})

    def _add(self, item: JSON) -> None:
        self._close()
        self.item = item
        self.text = []
        self._emit(
            "response.output_item.added", self._at({"item": {**item, "status": "in_progress"}})
        )

    def _at(self, payload: JSON) -> JSON:
        return {"output_index": len(self.response["output"]), **payload}

    def _open_reasoning(self) -> None:
        if self.item is None or self.item["type"] != "reasoning":
            self._add({"type": "reasoning", "id": f"rs_{self.gen_id}", "summary": []})
            self._part_added({"type": "reasoning_text", "text": ""})
            self.thinking = []

    def _reasoning(self, text: str) -> None:
        self._open_reasoning()
        last = self.thinking[-1] if self.thinking else None
        if last is None or last.signature is not None or last.redacted is not None:
            self.thinking.append(Thinking())  # a signature closes a block: this is the next
        self.thinking[-1].text += text
        self.text.append(text)
        self._emit("response.reasoning_text.delta", self._in_part({"delta": text}))

    def _signed(self, signature: str) -> None:
        self._open_reasoning()
        if not self.thinking or self.thinking[-1].signature is not None:
            self.thinking.append(Thinking())
        self.thinking[-1].signature = signature

    def _text(self, text: str) -> None:
        if self.item is None or self.item["type"] != "message":
            self._add(
                {"type": "message", "id": f"msg_{self.gen_id}", "role": "assistant", "content": []}
            )
            self._part_added({"type": "output_text", "text": "", "annotations": []})
        self.text.append(text)
        self._emit("response.output_text.delta", self._in_part({"delta": text, "logprobs": []}))

    def _part_added(self, part: JSON) -> None:
        self._emit("response.content_part.added", self._in_part({"part": part}))

    def _in_part(self, payload: JSON) -> JSON:
        assert self.item is not None
        return self._at({"item_id": self.item["id"], "content_index": 0, **payload})

    def _open_call(self, call: StreamedCall) -> None:
        index = len([i for i in self.response["output"] if i["type"] != "message"])
        item = call_item(self.call, self.gen_id, index, call.id, call.name, "")
        item["status"] = "in_progress"
        self._add(item)
        if call.arguments:
            self._arguments(call, call.arguments)

    def _arguments(self, call: StreamedCall, text: str) -> None:
        self.text.append(text)
        if self.item is not None and self.item["type"] == "function_call":
            self._emit(
                "response.function_call_arguments.delta",
                self._at({"item_id": self.item["id"], "delta": text}),
            )
        # A free-form tool's input is inside a JSON object: sent whole when the call closes.

    def _close(self) -> None:
        item = self.item
        if item is None:
            return
        text = "".join(self.text)
        kind = item["type"]
        if kind == "reasoning":
            self._emit("response.reasoning_text.done", self._in_part({"text": text}))
            part = {"type": "reasoning_text", "text": text}
            self._emit("response.content_part.done", self._in_part({"part": part}))
            done = reasoning_item(self.gen_id, text, self.thinking)
        elif kind == "message":
            self._emit("response.output_text.done", self._in_part({"text": text, "logprobs": []}))
            out: JSON = {"type": "output_text", "text": text, "annotations": []}
            self._emit("response.content_part.done", self._in_part({"part": out}))
            done = message_item(self.gen_id, text)
        else:
            done = self._close_call(item, text)
        self._emit("response.output_item.done", self._at({"item": done}))
        self.response["output"].append(done)
        self.item = None
        self.text = []
        if kind in ("function_call", "custom_tool_call"):
            self.calls.closed()

    def _close_call(self, item: JSON, arguments: str) -> JSON:
        index = int(str(item["id"]).rsplit("_", 1)[-1])
        name = next(
            (c.name for c in self.calls.calls.values() if c.id == item["call_id"]), item["name"]
        )
        done = call_item(self.call, self.gen_id, index, item["call_id"], name, arguments)
        if done["type"] == "custom_tool_call":
            payload = {"item_id": item["id"], "delta": done["input"]}
            self._emit("response.custom_tool_call_input.delta", self._at(payload))
            self._emit(
                "response.custom_tool_call_input.done",
                self._at({"item_id": item["id"], "input": done["input"]}),
            )
        else:
            self._emit(
                "response.function_call_arguments.done",
                self._at(
                    {"item_id": item["id"], "name": done["name"], "arguments": done["arguments"]}
                ),
            )
        return done

    # -- output --------------------------------------------------------------------------

    def _emit(self, kind: str, payload: JSON) -> None:
        self.seq += 1
        body: dict[str, Any] = {"type": kind, "sequence_number": self.seq, **payload}
        self._out.append(sse_frame(orjson.dumps(body), kind))

    def _flush(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out


def message_of(output: list[dict[str, Any]]) -> Message:
    """The assistant turn a streamed response's output items make, for the conversation."""
    message = Message(role="assistant")
    calls = []
    for item in output:
        kind = item["type"]
        if kind == "reasoning":
            message.reasoning_content = "".join(c["text"] for c in item.get("content") or [])
            message.thinking = unseal_thinking(item.get("encrypted_content")) or None
        elif kind == "message":
            message.content = "".join(c["text"] for c in item["content"])
        elif kind in ("function_call", "custom_tool_call"):
            calls.append(item)
    if calls:
        message.tool_calls = [_chat_call(item) for item in calls]
    return message


def _chat_call(item: dict[str, Any]) -> dict[str, Any]:
    name = item["name"]
    if item.get("namespace"):
        name = f"{item['namespace']}{NAMESPACE_SEP}{name}"
    if item["type"] == "custom_tool_call":
        arguments = orjson.dumps({"input": item["input"]}).decode()
    else:
        arguments = item["arguments"]
    return {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
