"""A front door as OpenRouter serves it at `/api/v1/...`: the same door, with errors in
OpenRouter's body (`{"error": {"code": <int>, "message", "metadata"}}`, `api/errors.py`).

The door's methods are bound once, here, so the wrapper costs nothing per request."""

from __future__ import annotations

from typing import Any

import msgspec

from tokenport.api.door import FrontDoor
from tokenport.api.errors import openrouter_payload
from tokenport.errors import TokenportError

_encoder = msgspec.json.Encoder()


class OpenRouterDoor:
    def __init__(self, door: FrontDoor[Any]) -> None:
        self.name = door.name
        self.parse = door.parse
        self.response = door.response
        self.codec = door.codec
        self.headers = door.headers
        self.prepare = door.prepare
        self.finish = door.finish

    def error_body(self, exc: TokenportError, message: str) -> bytes:
        return _encoder.encode(openrouter_payload(exc))
