"""What operators and their machines ask of a running gateway: `/metrics` and `/readyz`.

`GET /metrics` is Prometheus's text format (`tokenport.telemetry.metrics`). By default it
needs the admin key as `Authorization: Bearer` (Prometheus sends it with a scrape job's
`authorization` setting); `[metrics] open = true` serves it to anyone; `[metrics] port`
serves it on a port of its own instead (and not here).

`GET /readyz` is 200 while the worker takes new requests and 503 from the moment it starts
draining (`api/drain.py`); `/healthz` stays the liveness probe.

Each worker hands its counts to prometheus-client and refreshes its gauges (journal backlog
and write lag, circuit breakers, draining) every `[metrics] refresh_s` in the background
(`Gauges`), and flushes its own counts before answering a scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokenport.api.state import State
from tokenport.errors import Forbidden, Unauthorized
from tokenport.security.admission import bearer
from tokenport.telemetry import multiproc

log = logging.getLogger("tokenport.api")


def routes(state: Callable[[], State]) -> list[Route]:
    async def metrics(request: Request) -> Response:
        st = state()
        cfg = st.settings.metrics
        if not cfg.open:
            _require_admin(request, st.admin_key)
        registry = None
        if st.telemetry.metrics is not None:
            st.telemetry.metrics.flush()  # this worker's latest; the others' within refresh_s
            registry = st.telemetry.metrics.registry
        body = await asyncio.to_thread(multiproc.exposition, registry)
        return Response(body, media_type=multiproc.CONTENT_TYPE)

    async def readyz(request: Request) -> Response:
        if state().drain.draining:
            return Response(b'{"status":"draining"}', 503, media_type="application/json")
        return Response(b'{"status":"ready"}', media_type="application/json")

    out = [Route("/readyz", readyz, methods=["GET"])]
    settings = state().settings.metrics
    if settings.enabled and settings.port is None:
        out.append(Route("/metrics", metrics, methods=["GET"]))
    return out


def _require_admin(request: Request, admin_key: str | None) -> None:
    if admin_key is None:
        raise Forbidden(
            "/metrics needs the admin key, and none is set: set TOKENPORT_ADMIN_KEY (or "
            "`admin_key_env`), or `[metrics] open = true`, or serve it on `[metrics] port`."
        )
    token = bearer(request.headers.get("authorization"))
    if token is None or not hmac.compare_digest(token.encode(), admin_key.encode()):
        raise Unauthorized("/metrics needs the admin key as `Authorization: Bearer`.")


class Gauges:
    """The per-worker side of running in production: the gauges' refresher, the metrics
    port of a single-process gateway, and SIGTERM's drain."""

    def __init__(self, state: State) -> None:
        self.st = state
        self._task: asyncio.Task[None] | None = None
        self._port: Any = None

    def start(self) -> None:
        st = self.st
        st.drain.install()
        metrics, cfg = st.telemetry.metrics, st.settings.metrics
        if metrics is None:
            return
        if multiproc.directory() is not None:
            multiproc.forget_dead()  # a killed worker's live gauges would count forever
        elif cfg.port is not None and metrics.registry is not None:
            # One process: nobody else can serve its samples (`serve` does it for workers).
            from prometheus_client import start_http_server

            self._port = start_http_server(cfg.port, addr=cfg.host, registry=metrics.registry)
        self._task = asyncio.create_task(self._refresh(), name="metrics-gauges")

    async def _refresh(self) -> None:
        st = self.st
        metrics = st.telemetry.metrics
        assert metrics is not None
        while True:
            try:
                snapshot = st.gateway.health.snapshot()
                breakers = {
                    name: bool((snapshot.get(name) or {}).get("open_for_s"))
                    for name in st.registry.providers
                }
                metrics.gauges(
                    st.ledger.backlog(), st.ledger.write_lag_s(), breakers, st.drain.draining
                )
                metrics.flush()
            except Exception:
                log.exception("metrics gauges not refreshed")
            await asyncio.sleep(st.settings.metrics.refresh_s)

    async def stop(self) -> None:
        self.st.drain.uninstall()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._port is not None:
            server, thread = self._port
            server.shutdown()
            if isinstance(thread, threading.Thread):
                thread.join(timeout=5)
        if self.st.telemetry.metrics is not None:
            self.st.telemetry.metrics.flush()
        # The tracer's last batch goes out, unless the collector makes the exit wait.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self.st.telemetry.shutdown), 5.0)
        if multiproc.directory() is not None:
            import os

            multiproc.forget(os.getpid())
