"""`tokenport serve` as systemd, Docker and a careless user run it: how it starts and ends.

- SIGTERM and SIGKILL of the gateway leave no llama.cpp child behind;
- a model server left running by an earlier gateway does not survive the next start;
- a port that is taken fails at once, before the local model loads;
- `--database-url` and DATABASE_URL choose the ledger; `config check` refuses a database
  it cannot reach.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _helpers import free_port, http_json, wait_http

LOCAL = "llama_cpp.server"


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TOKENPORT_DATA_DIR": str(tmp), "TOKENPORT_CONFIG": "", **extra}
    env.pop("DATABASE_URL", None)
    env.pop("TOKENPORT_DATABASE_URL", None)
    return {**env, **extra}


def _serve(
    tmp: Path, port: int, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = (tmp / "serve.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tokenport", "serve", "--port", str(port), *args],
        env=env or _env(tmp),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )


def _children(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def _local_port(tmp: Path) -> str:
    """The local model child's port, from its command line (/healthz does not show it)."""
    pid = json.loads((tmp / "local-model.pid").read_text())["pid"]
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return args[args.index(b"--port") + 1].decode()


def _gone(pattern: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _children(pattern):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.local_model
def test_no_local_model_outlives_the_gateway_sigkill_stale_child_then_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, port)
    try:
        wait_http(base + "/healthz", 120, proc, tmp_path / "serve.log")
        child = f"{LOCAL}.*--port {_local_port(tmp_path)}"
        assert _children(child), "the local model child is not running"
        proc.kill()  # SIGKILL: the gateway runs no cleanup at all
        proc.wait(timeout=10)
        assert _gone(child, 10), "SIGKILL of the gateway orphaned the local model"
    finally:
        if proc.poll() is None:
            proc.kill()

    # A model server a crashed gateway left behind (as before the parent-death signal): a
    # process whose command line names llama_cpp.server, recorded in the pid file with a
    # gateway pid that no longer exists.
    stale = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", LOCAL, "--port", "1"]
    )
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "local-model.pid").write_text(json.dumps({"pid": stale.pid, "parent": dead.pid}))
    proc = _serve(tmp_path, port)
    try:
        wait_http(base + "/healthz", 120, proc, tmp_path / "serve.log")
        assert stale.wait(timeout=5) == -signal.SIGKILL  # stopped by the next start
        child = f"{LOCAL}.*--port {_local_port(tmp_path)}"
        assert _children(child)
        proc.send_signal(signal.SIGTERM)  # what systemd and Docker send
        assert proc.wait(timeout=30) == 0
        assert _gone(child, 10), "SIGTERM of the gateway orphaned the local model"
    finally:
        if proc.poll() is None:
            proc.kill()
        if stale.poll() is None:
            stale.kill()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log
    assert "left running by an earlier gateway" in log
    assert not (tmp_path / "local-model.pid").exists()  # a clean stop removes it


def test_a_taken_port_fails_at_once_before_the_local_model_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "tokenport", "serve", "--port", str(port)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.returncode == 1
    assert f"port {port}" in out.stderr and "already in use" in out.stderr, out.stderr
    assert "listening" not in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "logs" / "local-model.log").exists()  # the model never started
    assert time.monotonic() - started < 30


def _check(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenport", "config", "check", *args],
        env=_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp,
    )


def test_config_check_fails_for_a_database_it_cannot_reach(tmp_path: Path) -> None:
    out = _check(tmp_path, TOKENPORT_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    assert out.returncode == 1, out.stdout
    assert "not usable" in out.stderr and "127.0.0.1:1/none" in out.stderr
    assert "Configuration OK" not in out.stdout and "Traceback" not in out.stderr


@pytest.mark.postgres
def test_database_url_is_honoured_after_the_tokenport_variable_and_the_file(
    tmp_path: Path, pg_url: str
) -> None:
    out = _check(tmp_path, DATABASE_URL=pg_url)
    assert out.returncode == 0, out.stderr
    assert "127.0.0.1:5432/test (from DATABASE_URL)" in " ".join(out.stdout.split())
    bad = "postgresql://postgres@127.0.0.1:1/none"
    out = _check(tmp_path, DATABASE_URL=bad)
    assert out.returncode == 1 and "127.0.0.1:1/none" in out.stderr
    # TOKENPORT_DATABASE_URL wins over DATABASE_URL
    out = _check(tmp_path, DATABASE_URL=bad, TOKENPORT_DATABASE_URL=pg_url)
    assert out.returncode == 0, out.stderr
    # and so does the config file's database_url (DATABASE_URL may be another program's)
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(f'database_url = "{pg_url}"\n')
    out = _check(tmp_path, "--config", str(cfg), DATABASE_URL=bad)
    assert out.returncode == 0, out.stderr
    assert "(from the config file)" in " ".join(out.stdout.split())


@pytest.mark.postgres
def test_serve_database_url_flag_reaches_the_workers(tmp_path: Path, pg_url: str) -> None:
    port = free_port()
    env = _env(tmp_path, TOKENPORT_ADMIN_KEY="admin-secret-for-this-test")
    args = ("--no-local", "--database-url", pg_url, "--workers", "2")
    proc = _serve(tmp_path, port, *args, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", 60, proc, tmp_path / "serve.log")
        status, _ = http_json(
            "POST", base + "/api/v1/keys", {"name": "via-flag"}, "admin-secret-for-this-test"
        )
        assert status == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert not (tmp_path / "ledger.db").exists()  # the SQLite default was never opened
    import psycopg

    with psycopg.connect(pg_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM api_keys").fetchall()]
    assert names == ["via-flag"]


def _guarded(tmp: Path, **limits: float) -> tuple[subprocess.Popen[bytes], int]:
    cfg = tmp / "limits.toml"
    cfg.write_text(f'data_dir = "{tmp}"\n' + "".join(f"{k} = {v}\n" for k, v in limits.items()))
    port = free_port()
    proc = _serve(tmp, port, "--no-local", "--config", str(cfg))
    wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, tmp / "serve.log")
    return proc, port


def _closed_after(
    sock: socket.socket, drip: bytes, every: float, limit: float
) -> tuple[float, bytes]:
    """Send `drip` one byte every `every` s until the server answers or closes; returns
    (seconds until then, what it sent)."""
    started = time.monotonic()
    sock.setblocking(False)
    got = b""
    i = 0
    while time.monotonic() - started < limit:
        if i < len(drip):
            try:
                sock.send(drip[i : i + 1])
            except OSError:
                break
            i += 1
        time.sleep(every)
        try:
            chunk = sock.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return time.monotonic() - started, got


def test_slow_headers_idle_connections_and_too_many_connections_are_cut(tmp_path: Path) -> None:
    proc, port = _guarded(tmp_path, header_timeout_s=1.5, keepalive_timeout_s=1, max_connections=6)
    addr = ("127.0.0.1", port)
    try:
        # slowloris: a request line and headers, one byte every 0.2 s, never finished
        with socket.create_connection(addr) as s:
            took, got = _closed_after(
                s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200, 0.2, 20
            )
        assert took < 5 and got.startswith(b"HTTP/1.1 408"), (took, got)
        # connected and silent
        with socket.create_connection(addr) as s:
            took, got = _closed_after(s, b"", 0.1, 20)
        assert took < 5 and got.startswith(b"HTTP/1.1 408"), (took, got)
        # idle after a complete request on a keep-alive connection
        with socket.create_connection(addr) as s:
            took, got = _closed_after(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0.0, 20)
        assert got.startswith(b"HTTP/1.1 200") and took < 4, (took, got[:40])
        # the cap: six open connections are served, the seventh is refused at once
        held = [socket.create_connection(addr) for _ in range(6)]
        try:
            time.sleep(0.2)
            with socket.create_connection(addr) as s:
                took, got = _closed_after(s, b"", 0.05, 5)
            assert got.startswith(b"HTTP/1.1 503") and took < 1, (took, got)
        finally:
            for h in held:
                h.close()
        time.sleep(0.3)
        status, body = http_json("GET", f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and body["status"] == "ok"  # still serving normally
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
