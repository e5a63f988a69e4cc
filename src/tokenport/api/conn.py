"""Connection limits uvicorn lacks: a deadline for request headers and a connection cap.

uvicorn times out a keep-alive connection only after a response: a client that connects
and sends nothing, or trickles header bytes one at a time, holds its connection (a file
descriptor and a protocol object) forever, so a few thousand of them exhaust the server
(slowloris). `GuardedHttpTools` is uvicorn's httptools protocol plus:

- every request's headers must be complete within `header_timeout_s` of the connection
  opening, or of the first byte after a keep-alive pause; otherwise 408 and close;
- a worker process holds at most `max_connections` connections; one more is answered 503
  and closed at once, instead of being queued for a handler.

Idle keep-alive connections are closed by uvicorn's own `timeout_keep_alive`. The limits
travel to each worker on `GuardedConfig`, which uvicorn pickles into its worker processes,
with the protocol class named by import string.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "tokenport.api.conn:GuardedHttpTools"
_BUSY_BODY = b"The server has too many open connections; retry shortly.\n"
_SLOW_BODY = b"The request headers did not arrive in time.\n"


def _response(status: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: text/plain\r\nconnection: close\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_connections: int = 2048


class GuardedConfig(Config):
    """uvicorn's Config carrying the limits to every worker (it is pickled into them)."""

    def __init__(self, app: str, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, http=PROTOCOL, **kwargs)
        self.tokenport_limits = limits


class GuardedHttpTools(HttpToolsProtocol):
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits = getattr(config, "tokenport_limits", None)
        self._limits = limits if isinstance(limits, ConnectionLimits) else ConnectionLimits()
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            transport.write(
                _response(b"503 Service Unavailable", _BUSY_BODY, b"retry-after: 1\r\n")
            )
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        # The first bytes after a keep-alive pause start a new request: its headers get
        # their own deadline (uvicorn has just disarmed its keep-alive timer).
        if self._header_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(
            self._limits.header_timeout_s, self._headers_too_slow
        )

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(_response(b"408 Request Timeout", _SLOW_BODY))
            self.transport.close()
