"""Pooled HTTP to upstreams, and the one mapping from upstream HTTP failures to errors.

One `aiohttp.ClientSession` per provider keeps connections alive across requests;
aiohttp is used rather than httpx because its client costs noticeably less CPU per
request, which is most of a gateway's overhead.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from time import time

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from tokenport.errors import (
    ConfigError,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from tokenport.redaction import redact, redact_addresses

log = logging.getLogger("tokenport.providers")


def connect_failure(exc: BaseException) -> str:
    """Why a connection failed, in words that name no address (`str(exc)` names it)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the provider's host name did not resolve"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    os_error = getattr(exc, "os_error", None) or (exc if isinstance(exc, OSError) else None)
    code = getattr(os_error, "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return os.strerror(code).lower()
    return type(exc).__name__


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def error_for_status(
    provider: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    secrets: tuple[str, ...] = (),
) -> UpstreamError:
    """Classify a non-2xx upstream answer. The body is shortened and redacted.

    `secrets` are the values this client itself sent (its key): removed verbatim, whatever
    their format, before the pattern-based `redact` catches the common shapes.
    """
    text = body[:500].decode("utf-8", "replace")
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    text = redact(text)
    if status in (401, 403):
        return UpstreamAuthError(
            provider, f"upstream rejected the configured API key (HTTP {status}): {text}", status
        )
    if status == 429:
        return UpstreamRateLimited(
            provider,
            f"upstream rate limit (HTTP 429): {text}",
            status,
            retry_after_seconds(headers),
        )
    if status >= 500:
        return UpstreamServerError(
            provider,
            f"upstream error (HTTP {status}): {text}",
            status,
            retry_after_seconds(headers),
        )
    if status in (408, 409):
        return UpstreamServerError(provider, f"upstream HTTP {status}: {text}", status)
    return UpstreamBadRequest(
        provider, f"upstream refused the request (HTTP {status}): {text}", status
    )


_JSON_HEADERS = {"Content-Type": "application/json"}


@functools.lru_cache(maxsize=256)
def _limits(timeout: float, stream: bool) -> aiohttp.ClientTimeout:
    """A call's timeouts (immutable, so one object serves every call with the same figures)."""
    if stream:
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(total=timeout)


class UpstreamClient:
    """A pooled session to one provider's base URL."""

    def __init__(self, provider: str, base_url: str, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            if any(c in name + value for c in "\r\n"):
                # A line break would let a config value smuggle extra headers upstream.
                raise ConfigError(f"providers.{provider}.headers: '{name}' contains a line break")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._secrets = tuple(
            v.removeprefix("Bearer ").strip()
            for k, v in headers.items()
            if k.lower() in ("authorization", "x-api-key", "api-key", "x-goog-api-key")
            and v.strip()
        )
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}  # parsed once per path: yarl's parse is per call

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    def _session_now(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside the running event loop.
        if self._session is None or self._session.closed:
            # Idle connections are dropped well before common upstream idle timeouts, so a
            # reused connection is rarely one the server is about to close.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=15)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @asynccontextmanager
    async def post(
        self,
        path: str,
        body: bytes,
        timeout: float,
        *,
        stream: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST and yield the response once its status is known to be 2xx.

        A non-streamed call gets `timeout` as its whole deadline. A stream gets it as the
        longest allowed silence between reads, so a long generation is never cut while a
        stalled one still is.
        """
        limits = _limits(timeout, stream)
        try:
            resp = await self._send(path, body, limits, headers)
            async with resp:
                if resp.status >= 300:
                    raw = await resp.read()
                    raise error_for_status(
                        self.provider, resp.status, raw, resp.headers, self._secrets
                    )
                yield resp
        except TimeoutError as exc:
            raise UpstreamTimeout(self.provider, f"no answer within {timeout:g}s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise UpstreamConnectError(self.provider, f"connection broke: {exc}") from exc
        except aiohttp.ClientConnectionError as exc:
            # The address is for the operator's log; the client gets only the reason.
            log.warning("%s: cannot connect to %s: %s", self.provider, self.base_url, exc)
            raise UpstreamConnectError(
                self.provider, f"cannot connect: {connect_failure(exc)}"
            ) from exc
        except (aiohttp.ClientResponseError, HttpProcessingError) as exc:
            raise UpstreamProtocolError(
                self.provider,
                f"unreadable HTTP answer: {redact_addresses(redact(str(exc)))[:200]}",
            ) from exc

    async def _send(
        self,
        path: str,
        body: bytes,
        limits: aiohttp.ClientTimeout,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """POST; once more on a fresh connection if a pooled one was closed by the server
        before it answered (so the request never reached it)."""
        for attempt in (1, 2):
            try:
                return await self._session_now().post(
                    self._url(path),
                    data=body,
                    headers=_JSON_HEADERS if headers is None else {**_JSON_HEADERS, **headers},
                    timeout=limits,
                    allow_redirects=False,
                )
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
