"""Plain helpers shared by test modules (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, Any]:
    """One request with a JSON body (bytes are sent as they are); returns (status, JSON)."""
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else None)
    )
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def http_raw(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> tuple[int, dict[str, str], bytes]:
    """One request (a dict body is sent as JSON); returns (status, lower-cased headers, body)."""
    h = {"Content-Type": "application/json", **(headers or {})}
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def wait_http(url: str, timeout: float, proc: Any = None, log: Any = None) -> None:
    """Wait until `url` answers. With `proc` (a Popen) stop early if it exits; `log` (a Path)
    is quoted in the failure, so a server that could not start says why."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            dead = proc is not None and proc.poll() is not None
            if dead or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
                why = "exited" if dead else f"did not answer within {timeout}s"
                raise AssertionError(f"{url} {why}\n{tail}") from None
            time.sleep(0.2)


def missing(reason: str) -> None:
    """Skip where an optional tool is absent, but fail in CI, where .ci/run installs it:
    a CI run must never pass by skipping the test it was meant to run."""
    import os

    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, hint: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        missing(hint)
        raise


def serve(cfg: Any, port: int, log: Any, env: dict[str, str], *extra: str) -> Any:
    """Start `tokenport serve --no-local` as its own process and wait until it answers."""
    import subprocess

    from tokenport.lab.launch import serve_argv

    out = log.open("ab")
    proc = subprocess.Popen(
        serve_argv(cfg, port, *extra),
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, log)
    return proc


# Packages only `pip install -e ".[dev]"` brings: blocked in `run_cli_without_dev_packages`.
DEV_ONLY = ("matplotlib", "sklearn", "scipy", "pytest", "playwright", "pyarrow")


def run_cli_without_dev_packages(
    args: list[str], cwd: Any = None, blocked: tuple[str, ...] = DEV_ONLY, timeout: float = 300
) -> Any:
    """`tokenport ARGS` in a fresh interpreter where importing any of `blocked` fails, as it
    does after the README's plain `pip install -e .`; returns the CompletedProcess."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        "from tokenport.cli import main\n"
        "sys.argv = ['tokenport', *sys.argv[1:]]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for_dashboard(page: Any, timeout: float = 20) -> str:
    """The dashboard's status once it has left "loading". Polled with `page.evaluate`: the
    page's Content-Security-Policy forbids eval, which Playwright's `wait_for_function`
    needs for a string predicate."""
    deadline = time.monotonic() + timeout
    while True:
        status = page.evaluate("window.__tokenport ? window.__tokenport.status : 'loading'")
        if status != "loading":
            return str(status)
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard still says 'loading' after {timeout}s")
        time.sleep(0.05)


async def asgi_get(app: Any, path: str, query: bytes = b"") -> tuple[int, Any]:
    """GET through an ASGI app in-process (its exception handlers and all); (status, JSON)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, json.loads(body)


def one_fake_model(price: float) -> dict[str, Any]:
    """A provider's `models` with the fake upstream's one model at `price` per million input
    tokens (output three times that): the cheap or strong side of an `auto` pool."""
    model = {
        "id": "fake-model",
        "slug": "fake-model",
        "input_price": price,
        "output_price": price * 3,
    }
    return {"models": [model]}


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `predicate` until it holds; fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)
