"""OpenAI's legacy Completions (`POST /v1/completions`) as a one-turn chat.

The upstreams behind the gateway are chat models, so the prompt is sent as the user turn
and the answer comes back as `text`: older clients that only know this endpoint get the
model's answer, not a raw continuation of the prompt. What a chat upstream cannot do is
refused with a 400 rather than faked: `suffix` (insertion), several prompts in one request,
prompts given as token ids, and `best_of` above `n`. `echo` is kept (the prompt is put in
front of the text), and `logprobs: k` is asked of the upstream as `top_logprobs: k` and
reported in the legacy shape.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.errors import BadRequest
from tokenport.values import (
    ChatRequest,
    ChatResponse,
    Chunk,
    Delta,
    Message,
    ProviderPrefs,
    StreamOptions,
    Usage,
)
from tokenport.wire.common import (
    check_range,
    check_tokens,
    convert,
    decode_object,
    wrong_door_error,
)
from tokenport.wire.openai_chat import WireUsage, chat_usage_to_wire

DEFAULT_MAX_TOKENS = 16  # the legacy endpoint's own default
_encoder = msgspec.json.Encoder()


class CompletionsBody(msgspec.Struct):
    model: str
    prompt: str | list[Any]
    suffix: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: int | None = None
    echo: bool = False
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    best_of: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    seed: int | None = None
    models: list[str] | None = None
    provider: ProviderPrefs | None = None


class CompletionCall(msgspec.Struct):
    prompt: str
    echo: bool


def parse_completions_request(body: bytes) -> tuple[ChatRequest, CompletionCall]:
    raw = decode_object(body)
    wrong = wrong_door_error(raw, "completions", "Completions")
    if wrong is not None:
        raise wrong
    b = convert(
        {k: v for k, v in raw.items() if k in CompletionsBody.__struct_fields__},
        CompletionsBody,
        "request",
    )
    prompt = _prompt(b.prompt)
    if b.suffix:
        raise BadRequest("`suffix` (insertion) cannot be served by chat models.", param="suffix")
    if b.best_of is not None and b.best_of > (b.n or 1):
        raise BadRequest("`best_of` above `n` is not supported.", param="best_of")
    check_tokens("max_tokens", b.max_tokens)
    check_range("logprobs", b.logprobs, 0, 20)
    request = ChatRequest(
        model=b.model,
        messages=[Message(role="user", content=prompt)],
        stream=b.stream,
        max_tokens=b.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=b.temperature,
        top_p=b.top_p,
        n=b.n,
        stop=b.stop,
        presence_penalty=b.presence_penalty,
        frequency_penalty=b.frequency_penalty,
        logit_bias=b.logit_bias,
        user=b.user,
        seed=b.seed,
        stream_options=b.stream_options,
        logprobs=True if b.logprobs else None,
        top_logprobs=b.logprobs or None,
        models=b.models,
        provider=b.provider,
        door="completions",
    )
    if not request.model.strip():
        raise BadRequest("`model` must not be empty.", param="model")
    return request, CompletionCall(prompt, b.echo)


def _prompt(prompt: str | list[Any]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if prompt and all(isinstance(p, str) for p in prompt):
        raise BadRequest("Send one prompt per request; several in one are not supported.")
    raise BadRequest("Prompts given as token ids are not supported; send text.", param="prompt")


def legacy_logprobs(chat: Any) -> dict[str, Any] | None:
    """Chat `logprobs` ({content: [{token, logprob, top_logprobs}]}) in the legacy shape."""
    content = chat.get("content") if isinstance(chat, dict) else None
    if not isinstance(content, list):
        return None
    tokens, values, tops, offsets, at = [], [], [], [], 0
    for item in content:
        token = str(item.get("token", ""))
        tokens.append(token)
        values.append(item.get("logprob"))
        tops.append({t.get("token"): t.get("logprob") for t in item.get("top_logprobs") or []})
        offsets.append(at)
        at += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def encode_completions_response(
    resp: ChatResponse, call: CompletionCall, usage: Usage, cost: float | None
) -> bytes:
    choices = []
    for c in resp.choices:
        text = c.message.content if isinstance(c.message.content, str) else ""
        choices.append(
            {
                "text": (call.prompt + text) if call.echo else text,
                "index": c.index,
                "logprobs": legacy_logprobs(c.logprobs),
                "finish_reason": c.finish_reason,
            }
        )
    body = {
        "id": resp.id,
        "object": "text_completion",
        "created": resp.created,
        "model": resp.model,
        "choices": choices,
        "usage": chat_usage_to_wire(usage, cost),
    }
    return _encoder.encode(body)


def encode_completions_chunk(
    gen_id: str, model: str, created: int, chunk: Chunk, text: str
) -> bytes:
    choice = {
        "text": text,
        "index": chunk.index,
        "logprobs": legacy_logprobs(chunk.logprobs),
        "finish_reason": chunk.finish_reason,
    }
    body = {
        "id": gen_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [choice],
    }
    return _encoder.encode(body)


def encode_completions_usage_chunk(
    gen_id: str, model: str, created: int, usage: Usage, cost: float | None
) -> bytes:
    body = {
        "id": gen_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [],
        "usage": chat_usage_to_wire(usage, cost),
    }
    return _encoder.encode(body)


# ---------------------------------------------------------------------------------------
# Upstream raw completion: how the local llama.cpp child continues a partial answer (stream
# resume, `providers/openai_compat.py`): the prompt rendered by tokenport, streamed back.


class _PromptChoice(msgspec.Struct):
    text: str = ""
    index: int = 0
    finish_reason: str | None = None


class _PromptChunk(msgspec.Struct):
    choices: list[_PromptChoice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None


_prompt_chunk = msgspec.json.Decoder(_PromptChunk)


def prompt_body(request: ChatRequest, model: str, prompt: str) -> bytes:
    """A streamed `POST /completions` body that continues `prompt` as the request would."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True}
    sampling = {
        "max_tokens": request.output_cap(),
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": request.stop,
    }
    body.update((k, v) for k, v in sampling.items() if v is not None)
    return _encoder.encode(body)


def decode_prompt_chunk(data: bytes) -> list[Chunk]:
    """One upstream completions SSE payload -> chunks of answer text (usage last)."""
    wire = _prompt_chunk.decode(data)
    out = [
        Chunk(c.index, Delta(content=c.text) if c.text else None, c.finish_reason)
        for c in wire.choices
        if c.text or c.finish_reason
    ]
    if wire.usage is not None:
        out.append(Chunk(usage=wire.usage.to_usage()))
    return out
