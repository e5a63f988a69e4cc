"""How to start a real `tokenport serve` as its own process: the one launcher the tests, the
benchmarks and the tools share."""

from __future__ import annotations

import sys
from pathlib import Path


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
