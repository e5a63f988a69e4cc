"""Child processes for the benchmark: start pinned, wait until they answer, measure, stop.

Every child runs in its own session (process group) so that stopping it also stops the
workers it forked, and nothing outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.loadgen import summarize

_PAGE = os.sysconf("SC_PAGE_SIZE")


class NotMeasurable(Exception):
    """The system cannot run on this machine; the message says exactly why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(cmd: Sequence[str], cpus: str | None) -> list[str]:
    """Prefix `cmd` with taskset when asked and available (the children inherit the mask)."""
    if cpus and Path("/usr/bin/taskset").exists():
        return ["taskset", "-c", cpus, *cmd]
    return list(cmd)


def spawn(
    cmd: Sequence[str],
    log: Path,
    *,
    cpus: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            pinned(cmd, cpus),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it has not gone in `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    # Workers that ignored the group signal (they should not) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-bench"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> float:
    """Poll `url` until it answers 200; returns seconds waited. Raises with the log's tail."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before ready:\n{tail(log)}")
        with contextlib.suppress(OSError):
            status, _ = http_get(url, timeout=1.0)
            if status == 200:
                return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {timeout:.0f}s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    kids = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    return rss_bytes(tree(pid))


class RssSampler:
    """Samples a process tree's RSS in a thread; `peak` is the largest sum seen."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        pids = tree(self.pid)
        n = 0
        while not self._stop.is_set():
            if n % 20 == 0:  # workers may be forked late or restarted
                pids = tree(self.pid)
            self.peak = max(self.peak, rss_bytes(pids))
            n += 1
            self._stop.wait(self.interval)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes (all their threads), in seconds."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def tree_cpu(pid: int) -> float:
    return cpu_seconds(tree(pid))


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy all CPUs were over `seconds` (0..1): other people's load, when we run nothing."""
    t0, i0 = _cpu_times()
    time.sleep(seconds)
    t1, i1 = _cpu_times()
    return round(1 - (i1 - i0) / max(1, t1 - t0), 3)


def disk_flush_ms(directory: Path, n: int = 300, frame: int = 512) -> dict[str, float | None]:
    """Latency of one small append + fsync in `directory`, as the ledger journal does it.

    The default `ledger_sync = "fsync"` waits for one such flush per group of answers, so
    its tail bounds the gateway's added p99 whatever the gateway's own code costs.
    """
    path = directory / "fsync-probe.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    took: list[float] = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * frame)
            os.fsync(fd)
            took.append((time.perf_counter() - t0) * 1e3)
            time.sleep(0.002)  # about the group rate at 500 RPS
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return summarize(took)


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
