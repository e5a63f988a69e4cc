"""The Starlette routes' one body reader and one JSON responder.

(The front doors' raw-ASGI hot path reads its body in `api/edge.py`, for speed.)
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tokenport.errors import BadRequest, PayloadTooLarge

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
JSON_TYPE = "application/json"
DEFAULT_LIMIT = 1_000_000


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(obj), status_code=status, media_type=JSON_TYPE, headers=headers)


async def read_body(request: Request, limit: int = DEFAULT_LIMIT) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(part)
    return b"".join(parts)


async def read_json(request: Request, kind: type[T], limit: int = DEFAULT_LIMIT) -> T:
    """The body decoded into `kind`, or a 400 that says what is wrong with it."""
    body = await read_body(request, limit)
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"Invalid request body: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("The request body nests too deep.") from exc
