"""The Gemini door: Google's Generative Language API (`/v1beta/models/...`), as Gemini CLI and
the `google-genai` SDKs call it, over the one pipeline every door shares (`api/edge.py`).

    POST /v1beta/models/{model}:generateContent
    POST /v1beta/models/{model}:streamGenerateContent   (`?alt=sse`: SSE; else a JSON array)
    POST /v1beta/models/{model}:countTokens
    GET  /v1beta/models, /v1beta/models/{model}

The same under `/v1/`, where `google-genai` 3.x calls by default. `GET /v1/models` is also
OpenAI's list: a request that carries Google's headers (`x-goog-api-key`,
`x-goog-api-client`) gets Google's shape there (`wants_gemini`), any other OpenAI's.

The model and the action live in the URL, not the body, so the POST endpoint makes a door
per request that knows them (two small objects). The key comes as `x-goog-api-key`, as
`?key=`, or as a Bearer token like everywhere else; errors are Google's
`{"error": {"code", "message", "status"}}`, in a stream too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.door import Call, StreamCodec
from tokenport.api.edge import (
    DoorEndpoint,
    Message,
    Receive,
    Scope,
    Send,
    api_key,
    guarded,
    header_pairs,
    read_body,
    send_json,
)
from tokenport.api.errors import error_headers, error_message
from tokenport.api.http import JSON_TYPE
from tokenport.api.state import State
from tokenport.catalog.model import ModelEntry
from tokenport.errors import BadRequest, ModelNotFound, NotFound, TokenportError
from tokenport.gateway import OpenStream, RequestContext, Served, StreamEnd
from tokenport.telemetry.watch import Watch
from tokenport.tokens import TokenCounter
from tokenport.values import Chunk, Door
from tokenport.wire import gemini_reply
from tokenport.wire.common import decode_object
from tokenport.wire.gemini_parse import GeminiCall, camel, parse_body, parse_gemini_request
from tokenport.wire.gemini_stream import StreamEncoder

PREFIXES = ("/v1beta/models/", "/v1/models/")
_encoder = msgspec.json.Encoder()
_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
_PAGE = 50
_MAX_PAGE = 1000


class _Codec:
    __slots__ = ("encoder",)

    def __init__(self, encoder: StreamEncoder) -> None:
        self.encoder = encoder

    def chunk(self, chunk: Chunk) -> bytes:
        return self.encoder.chunk(chunk)

    def end(self, e: StreamEnd) -> bytes:
        if e.error is not None:
            return self.encoder.error(e.error, error_message(e.error))
        return self.encoder.end(e.usage, e.cost)


class GeminiDoor:
    """One request's door: the model and the framing come from its URL."""

    name: Door = "gemini"
    __slots__ = ("model", "sse", "stream")

    def __init__(self, model: str, stream: bool, sse: bool) -> None:
        self.model = model
        self.stream = stream
        self.sse = sse

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Call[GeminiCall]:
        request, call = parse_gemini_request(body, self.model, self.stream)
        return Call(request, call)

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return gemini_reply.gemini_error_body(exc, message)

    def response(
        self, call: Call[GeminiCall], served: Served, ctx: RequestContext, extra: dict[str, Any]
    ) -> bytes:
        thoughts = call.state.include_thoughts
        return gemini_reply.encode_response(
            served.response, ctx.gen_id, served.usage, served.cost, thoughts
        )

    def codec(self, call: Call[GeminiCall], opened: OpenStream, extra: dict[str, Any]) -> _Codec:
        thoughts = call.state.include_thoughts
        model = opened.route.model_id
        return _Codec(StreamEncoder(opened.ctx.gen_id, model, thoughts, self.sse))

    def headers(self, call: Call[GeminiCall]) -> list[tuple[bytes, bytes]]:
        dropped = call.state.dropped
        return [(b"x-tokenport-dropped-tools", ",".join(dropped).encode())] if dropped else []

    async def prepare(self, call: Call[GeminiCall], ctx: RequestContext) -> None:
        return None

    async def finish(
        self, call: Call[GeminiCall], ctx: RequestContext, codec: StreamCodec | None
    ) -> None:
        return None


def split_path(path: str) -> tuple[str, str]:
    """`/v1beta/models/{model}:{action}` -> (model, action). Model ids may hold slashes
    (`moonshotai/kimi-k2.5`) and colons (`qwen3:8b`): the action follows the last one."""
    rest = path.split("/models/", 1)[1]
    model, sep, action = rest.rpartition(":")
    if not sep:
        return rest, ""
    if model.startswith("models/"):
        model = model[len("models/") :]
    return model, action


def _with_key(scope: Scope, query: dict[str, list[str]]) -> Scope:
    """Google's key spellings (`x-goog-api-key`, `?key=`) as the Bearer token admission reads;
    an `Authorization` header, when present, wins."""
    headers = scope["headers"]
    if any(k.lower() == b"authorization" for k, _ in headers):
        return scope
    key = next((v for k, v in headers if k.lower() == b"x-goog-api-key"), None)
    if key is None and query.get("key"):
        key = query["key"][0].encode("latin-1")
    if not key:
        return scope
    return {**scope, "headers": [*headers, (b"authorization", b"Bearer " + key)]}


def _json_array_head(send: Send) -> Send:
    """The JSON-array stream (no `alt=sse`) is `application/json`, not an event stream."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message.get("status") == 200:
            head = [(k, v) for k, v in message["headers"] if k != b"content-type"]
            message = {**message, "headers": [(b"content-type", b"application/json"), *head]}
        await send(message)

    return wrapped


async def send_error(send: Send, exc: TokenportError) -> None:
    body = gemini_reply.gemini_error_body(exc, error_message(exc))
    await send_json(send, exc.status, body, header_pairs(error_headers(exc)))


class GeminiEndpoint:
    """Every POST under `/v1beta/models/`, as raw ASGI (the doors' hot path)."""

    def __init__(self, state: State) -> None:
        self.st = state
        self.counter: TokenCounter = state.gateway.counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model, action = split_path(scope["path"])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        scope = _with_key(scope, query)
        if action in ("generateContent", "streamGenerateContent"):
            stream = action == "streamGenerateContent"
            sse = query.get("alt", [""])[0] == "sse"
            door = GeminiDoor(model, stream, sse)
            if stream and not sse:
                send = _json_array_head(send)
            await DoorEndpoint(self.st, door)(scope, receive, send)
        elif action == "countTokens":
            await guarded(self.st, "gemini", scope, receive, send, self._count, send_error)
        else:
            known = ", ".join(_ACTIONS)
            said = f"No method '{action}' on models" if action else "No method in the path"
            await send_error(send, NotFound(f"{said}; POST .../models/{{model}}:{{{known}}}."))

    async def _count(
        self, scope: Scope, headers: dict[str, str], receive: Receive, send: Send, watch: Watch
    ) -> None:
        """The gateway's own estimate (the bundled tokenizer, per-message overhead), the same
        one used when an upstream reports no usage."""
        st = self.st
        await st.admission.authenticate(api_key(headers))
        body = await read_body(
            headers, receive, st.settings.max_body_bytes, st.settings.body_timeout_s
        )
        model, _ = split_path(scope["path"])
        raw = camel(decode_object(body))
        inner = raw.get("generateContentRequest")
        request, _ = parse_body(camel(inner) if inner is not None else raw, model, False)
        tokens = await asyncio.to_thread(self.counter.count_messages, request.messages)
        if request.tools:
            tools = _encoder.encode(request.tools).decode()
            tokens += await asyncio.to_thread(self.counter.count, tools)
        await send_json(send, 200, _encoder.encode({"totalTokens": tokens}))


# ---------------------------------------------------------------------------------------
# GET /v1beta/models


def model_json(e: ModelEntry) -> dict[str, Any]:
    return {
        "name": f"models/{e.id}",
        "baseModelId": e.id,
        "version": "001",
        "displayName": e.name,
        "description": f"{e.name} by {e.author}, served through tokenport.",
        "inputTokenLimit": e.context_length or 0,
        "outputTokenLimit": e.max_output or 0,
        "supportedGenerationMethods": list(_ACTIONS),
    }


def wants_gemini(scope: Scope) -> bool:
    """A GET under `/v1/models` from a Google client (its own headers), not an OpenAI one."""
    if scope["type"] != "http" or not scope["path"].startswith("/v1/models"):
        return False
    return any(k.lower().startswith(b"x-goog-") for k, _ in scope["headers"])


def routes(state: Callable[[], State], version: str = "v1beta") -> list[Route]:
    """The GET routes under `/{version}/models`."""

    async def key_of(request: Request) -> None:
        q = {k: [v] for k, v in request.query_params.items()}
        scope = _with_key({"headers": request.headers.raw}, q)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        await state().access.viewer(headers.get("authorization"))

    def answer(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                await key_of(request)
                body = await handler(request)
            except TokenportError as exc:
                payload = gemini_reply.gemini_error_body(exc, error_message(exc))
                return Response(payload, exc.status, error_headers(exc), JSON_TYPE)
            return Response(_encoder.encode(body), media_type=JSON_TYPE)

        return run

    async def list_models(request: Request) -> dict[str, Any]:
        entries = [e for e in state().catalog.entries() if e.provider in state().registry.providers]
        size, start = _page(request)
        page = entries[start : start + size]
        out: dict[str, Any] = {"models": [model_json(e) for e in page]}
        if start + size < len(entries):
            out["nextPageToken"] = str(start + size)
        return out

    async def get_model(request: Request) -> dict[str, Any]:
        st = state()
        name = request.path_params["model"].removeprefix("models/")
        target = st.router.aliases.resolve(name)
        entry = st.catalog.get(target)
        if entry is None:
            found = st.catalog.resolve(target)
            if not found:
                raise ModelNotFound(name, st.catalog.suggest(name))
            entry = found[0]
        return model_json(entry)

    return [
        Route(f"/{version}/models", answer(list_models), methods=["GET"]),
        Route(f"/{version}/models/{{model:path}}", answer(get_model), methods=["GET"]),
    ]


def _page(request: Request) -> tuple[int, int]:
    try:
        size = int(request.query_params.get("pageSize") or _PAGE)
        start = int(request.query_params.get("pageToken") or 0)
    except ValueError as exc:
        raise BadRequest("`pageSize` and `pageToken` must be whole numbers.") from exc
    if size < 1 or start < 0:
        raise BadRequest("`pageSize` must be at least 1 and `pageToken` not negative.")
    return min(size, _MAX_PAGE), start
