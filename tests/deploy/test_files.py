"""deploy/: what can be checked here without Docker or a running systemd.

- nginx (Debian's) with deploy/nginx/tokenport.conf in front of a live app: the client's
  address reaches tokenport's `client_ip` through X-Forwarded-For under `trusted_proxies`
  (and a client cannot forge it), and a stream arrives event by event (buffering off);
- the systemd unit passes `systemd-analyze verify`, and its ExecStart line runs, serves and
  drains;
- Prometheus's configs pass `promtool check config`;
- the compose file's services, its nginx.conf (the deploy one, but for the replicas' names)
  and its tokenport.toml (valid settings, stop grace above the drain).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from _helpers import free_port, http_raw, missing, wait_http
from _nginx import ROOT, start_nginx, wait_nginx
from tokenport.config import load_settings
from tokenport.security.clientip import client_ip

pytestmark = pytest.mark.slow  # starts nginx, tokenport serve, systemd-analyze, promtool
DEPLOY = ROOT / "deploy"
CLIENT = "127.0.0.7"  # the whole of 127/8 is this machine: a client address of its own


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Says who it thinks the client is; /stream sends three events 0.4 s apart."""
    if scope["type"] != "http":
        return
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    if scope["path"] == "/stream":
        head = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        for i in range(3):
            stamp = f"data: {i} {time.monotonic()}\n\n".encode()
            await send({"type": "http.response.body", "body": stamp, "more_body": True})
            await asyncio.sleep(0.4)
        await send({"type": "http.response.body", "body": b""})
        return
    seen = client_ip(scope, headers, ["127.0.0.1"])
    body = f"{seen}|{headers.get('x-forwarded-for', '')}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[bytes, list[float]]:
    """GET from CLIENT's address; the body and when each piece of it arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(CLIENT, 0))
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    parts, times = [], []
    while chunk := resp.read1(65536):
        parts.append(chunk)
        times.append(time.monotonic())
    conn.close()
    return b"".join(parts), times


def test_nginx_forwards_the_client_address_and_streams_unbuffered(tmp_path: Path) -> None:
    app_port, listen = free_port(), free_port()
    # uvicorn's own X-Forwarded-For handling off: tokenport reads it (security/clientip.py).
    server = uvicorn.Server(
        uvicorn.Config(
            _echo,
            host="127.0.0.1",
            port=app_port,
            log_level="warning",
            proxy_headers=False,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{app_port}/", 10)
    # Three "replicas": the same app thrice is enough to test the client's address.
    nginx, _ = start_nginx(tmp_path, [app_port] * 3, listen)
    try:
        wait_nginx(nginx, listen, tmp_path)
        body, _ = _get(listen, "/who")
        seen, chain = body.decode().split("|")
        assert seen == CLIENT and chain == CLIENT
        # A forged X-Forwarded-For from the client is kept but not believed.
        body, _ = _get(listen, "/who", {"X-Forwarded-For": "203.0.113.66"})
        seen, chain = body.decode().split("|")
        assert chain == f"203.0.113.66, {CLIENT}" and seen == CLIENT
        # Straight to the app, the peer is the client, whatever it claims.
        body, _ = _get(app_port, "/who", {"X-Forwarded-For": "203.0.113.66"})
        assert body.decode().split("|")[0] == CLIENT
        # Each event as it is sent, not the whole stream at its end.
        body, times = _get(listen, "/stream")
        assert body.count(b"data:") == 3
        assert len(times) >= 3 and times[-1] - times[0] >= 0.6, times
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        server.should_exit = True
        thread.join(timeout=10)


def test_the_systemd_unit_verifies_and_its_command_serves_and_drains(
    tmp_path: Path, fake: Any
) -> None:
    unit = (DEPLOY / "systemd" / "tokenport@.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M)
    assert exec_start is not None
    argv = shlex.split(exec_start.group(1))
    assert argv[0] == "/opt/tokenport/bin/tokenport" and argv[1] == "serve"
    assert "KillMode=mixed" in unit and "Restart=always" in unit
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))  # type: ignore[union-attr]
    defaults = load_settings(env={"TOKENPORT_CONFIG": ""}).drain
    assert stop > defaults.unready_s + defaults.grace_s
    tokenport = shutil.which("tokenport")
    analyze = shutil.which("systemd-analyze")
    if analyze is None or tokenport is None:
        missing("systemd-analyze (package systemd) and the tokenport command are needed")
        return
    units = tmp_path / "units"
    units.mkdir()
    (units / "tokenport@.service").write_text(
        unit.replace("/opt/tokenport/bin/tokenport", tokenport)
    )
    out = subprocess.run(
        [analyze, "verify", str(units / "tokenport@8001.service")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The command itself, as systemd would start instance %i, with the unit's environment.
    port = free_port()
    cfg = tmp_path / "tokenport.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[local]\nenabled = false\n'
        f'[providers.fakeoa]\nbase_url = "{fake.base_url}/v1"\n'
        'models = [{ id = "fake-model", input_price = 1.0, output_price = 2.0 }]\n'
    )
    cmd = [tokenport, *[a.replace("%i", str(port)) for a in argv[1:]]]
    env = {**os.environ, "TOKENPORT_CONFIG": str(cfg)}
    log = (tmp_path / "unit.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", 60, proc, tmp_path / "unit.log")
        body = {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "hi"}]}
        assert http_raw("POST", f"http://127.0.0.1:{port}/v1/chat/completions", body)[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)  # KillMode=mixed: the main process only
        assert proc.wait(timeout=60) == 0


@pytest.mark.parametrize("name", ["prometheus.yml", "compose/prometheus.yml"])
def test_prometheus_configs_pass_promtool(tmp_path: Path, name: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool (Debian's prometheus package) is not installed")
        return
    text = (DEPLOY / name).read_text()
    key = tmp_path / "admin-key"
    key.write_text("secret")
    text = re.sub(r"credentials_file: \S+", f"credentials_file: {key}", text)
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(text)
    out = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_file_nginx_and_settings_agree() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [n for n in services if n.startswith("tokenport-")]
    assert replicas == ["tokenport-1", "tokenport-2", "tokenport-3"]
    assert {"nginx", "postgres", "redis", "prometheus"} <= set(services)
    ours = (DEPLOY / "nginx" / "tokenport.conf").read_text()
    theirs = (DEPLOY / "compose" / "nginx.conf").read_text()

    def lines(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    differ = [(a, b) for a, b in zip(lines(ours), lines(theirs), strict=True) if a != b]
    assert [b.strip() for _, b in differ] == [
        "server tokenport-1:8000 max_fails=1 fail_timeout=5s;",
        "server tokenport-2:8000 max_fails=1 fail_timeout=5s;",
        "server tokenport-3:8000 max_fails=1 fail_timeout=5s;",
        "access_log /dev/stdout tokenport;",
    ]
    settings = load_settings(DEPLOY / "compose" / "tokenport.toml", env={})
    assert settings.trusted_proxies and settings.redis_url and settings.database_url
    grace = services["tokenport-1"]["stop_grace_period"]
    assert float(grace.rstrip("s")) > settings.drain.unready_s + settings.drain.grace_s
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"{r}:8000" for r in replicas]
