"""How to start a real gateway: `tokenport serve` as its own process (the one launcher the
tests, the benchmarks and the tools share), or an app on a thread of this one (the
simulators, which read the app's state while it serves)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from tokenport.errors import ServiceUnavailable


def serve_argv(config: Path | str, port: int, *extra: str) -> list[str]:
    """`tokenport serve` for one config and port, without the local model (tests and
    benchmarks point it at fake or mock upstreams); `extra` adds flags."""
    return [
        sys.executable,
        "-m",
        "tokenport",
        "serve",
        "--no-local",
        "--config",
        str(config),
        "--port",
        str(port),
        *extra,
    ]


def serve_in_thread(app: Any, name: str) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Serve `app` on a free loopback port from a daemon thread; return once it listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServiceUnavailable("The simulation's gateway did not start.")
        time.sleep(0.02)
    return server, thread, port
