"""prometheus-client's multiprocess mode: one directory of mmap files shared by the workers.

`prepare_for` runs in `tokenport serve` before any worker starts: it empties the directory and
names it in `$PROMETHEUS_MULTIPROC_DIR`, which the workers inherit; prometheus-client reads
the variable when a worker first imports it. A worker that stops cleanly removes its live
gauges (`forget`); one that was killed leaves them, so each worker also forgets the live
gauges of processes that no longer exist when it starts (`forget_dead`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE = re.compile(r"^gauge_live\w+_(\d+)\.db$")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def directory() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def prepare_for(parent: Path, pid: int) -> Path:
    """A fresh, empty directory for the workers of the `serve` process `pid`, named in the
    environment; those that dead `serve` processes left are removed (replicas may share a
    data directory, so each has its own)."""
    if parent.is_dir():
        for old in parent.iterdir():
            if old.name.isdigit() and not _alive(int(old.name)):
                shutil.rmtree(old, ignore_errors=True)
    path = parent / str(pid)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead() -> None:
    from prometheus_client import multiprocess

    path = directory()
    if path is None or not path.is_dir():
        return
    for f in path.iterdir():
        m = _LIVE.match(f.name)
        if m and not _alive(int(m.group(1))):
            multiprocess.mark_process_dead(int(m.group(1)), str(path))  # type: ignore[no-untyped-call]


def forget(pid: int) -> None:
    from prometheus_client import multiprocess

    path = directory()
    if path is not None and path.is_dir():
        multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def exposition(registry: object | None) -> bytes:
    """The text format: of `registry` (one process), or of every worker's files."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    if isinstance(registry, CollectorRegistry):
        return bytes(generate_latest(registry))
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, str(directory()))  # type: ignore[no-untyped-call]
    return bytes(generate_latest(merged))


def serve_port(host: str, port: int) -> None:
    """Serve every worker's metrics on their own port from this (the parent) process, in a
    daemon thread: the workers never see these requests."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, str(directory()))  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=merged)
