"""The one boundary where exceptions become error responses: status, Retry-After and the
body. The `/v1/*` paths answer in OpenAI's shape (`code` a string, as the openai SDKs parse
it); OpenRouter's `/api/v1/*` paths in OpenRouter's (`code` the HTTP status as an integer,
details under `metadata`), as both OpenRouter SDKs parse it. The Anthropic door renders the
same message in its own shape."""

from __future__ import annotations

import logging
import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tokenport.errors import (
    AllProvidersFailed,
    RateLimited,
    TokenportError,
    UpstreamError,
)
from tokenport.redaction import redact, redact_addresses

log = logging.getLogger("tokenport.api")
_encoder = msgspec.json.Encoder()


def error_message(exc: TokenportError) -> str:
    """What a client may read of an error: never a key, nor an internal address."""
    return redact_addresses(redact(exc.message))


def error_payload(exc: TokenportError) -> dict[str, Any]:
    """An error in OpenAI's shape, which every door but Anthropic Messages speaks."""
    err: dict[str, Any] = {
        "message": error_message(exc),
        "type": exc.type,
        "code": exc.code,
        "param": exc.param,
    }
    if exc.allowed is not None:
        err["allowed"] = list(exc.allowed)
    if isinstance(exc, UpstreamError):
        err["provider"] = exc.provider
    if isinstance(exc, AllProvidersFailed):
        err["attempts"] = [
            {
                "provider": a.provider,
                "model": a.model,
                "error": a.error_class,
                "status": a.http_status,
            }
            for a in exc.attempts
        ]
    return {"error": err}


OPENROUTER_PREFIX = "/api/"
_RETRYABLE = (408, 429)


def openrouter_payload(exc: TokenportError) -> dict[str, Any]:
    """An error in OpenRouter's shape: `{"error": {"code": <int>, "message", "metadata"}}`.

    `metadata` carries what the OpenAI shape has beside the message (its string code, type,
    the parameter at fault and its allowed values, the provider, the attempts), and the
    `reason` and `retryable` that OpenRouter's typed errors read. `param` and `allowed` also
    stay beside `code`, where tokenport's own clients read them; the SDKs accept extra keys."""
    detail = error_payload(exc)["error"]
    message = detail.pop("message")
    detail["reason"] = exc.code
    detail["retryable"] = exc.status in _RETRYABLE or exc.status >= 500
    err: dict[str, Any] = {"code": exc.status, "message": message, "metadata": detail}
    err["param"] = exc.param
    if exc.allowed is not None:
        err["allowed"] = list(exc.allowed)
    return {"error": err}


def payload_for(path: str, exc: TokenportError) -> dict[str, Any]:
    """The error body a path answers in: OpenRouter's under `/api/`, OpenAI's elsewhere."""
    if path.startswith(OPENROUTER_PREFIX):
        return openrouter_payload(exc)
    return error_payload(exc)


def retry_after(exc: TokenportError) -> float | None:
    if isinstance(exc, RateLimited):
        return exc.retry_after
    if isinstance(exc, UpstreamError):
        return exc.retry_after
    if isinstance(exc, AllProvidersFailed) and isinstance(exc.last, UpstreamError):
        return exc.last.retry_after
    return None


def error_headers(exc: TokenportError) -> dict[str, str]:
    """Retry-After (whole seconds, at least 1) and WWW-Authenticate, where they apply."""
    headers = {}
    retry = retry_after(exc)
    if retry is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry)))
    if exc.challenge is not None and exc.status == 401:
        headers["WWW-Authenticate"] = exc.challenge
    return headers


def error_response(exc: TokenportError, path: str = "") -> Response:
    return Response(
        _encoder.encode(payload_for(path, exc)),
        status_code=exc.status,
        media_type="application/json",
        headers=error_headers(exc),
    )


INTERNAL = TokenportError("Internal error in the gateway; it has been logged.")


async def handle_tokenport_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TokenportError)
    return error_response(exc, request.url.path)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server log only; the client gets a stable, safe message.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(INTERNAL, request.url.path)


# What every Starlette app of the gateway installs (the app itself, and any test harness
# that mounts an area's routes alone), so each error is answered the same way everywhere.
EXCEPTION_HANDLERS: dict[Any, Any] = {
    TokenportError: handle_tokenport_error,
    Exception: handle_unexpected,
}
