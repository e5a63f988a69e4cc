"""The systems under test, each started the way its users run it, pointed at the same mocks.

    tokenport-sqlite     tokenport serve, ledger on (SQLite, the default)
    tokenport-postgres   tokenport serve, ledger on (PostgreSQL)
    tokenport-sqlite-process  the same as tokenport-sqlite with ledger_sync = "process"
    litellm              litellm[proxy] with no database
    litellm-postgres     litellm[proxy] with its PostgreSQL spend logs (needs prisma)
    portkey              Portkey's open-source gateway (npm @portkey-ai/gateway, Node), no DB

Every system serves the models `mock0/mock-model` (mock upstream, 0 ms) and
`mock50/mock-model` (50 ms), so one request body works for all of them. Portkey's gateway
has no model list: it routes by request headers (`x-portkey-provider`, and
`x-portkey-custom-host` naming the mock that the model's prefix stands for).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench import peers
from bench.phases import FAST_MODEL, Headers, no_headers
from bench.procs import NotMeasurable, free_port, spawn, stop, wait_ready
from tokenport.lab.launch import serve_argv

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{db}"
MASTER_KEY = "sk-bench"


@dataclass(frozen=True)
class Spec:
    key: str
    family: str  # "tokenport", "litellm" or "portkey"
    ledger: str  # "sqlite", "postgresql" or "none"
    description: str
    ledger_sync: str = "fsync"  # tokenport's `ledger_sync`: "fsync" or "process"


SYSTEMS: dict[str, Spec] = {
    s.key: s
    for s in (
        Spec("tokenport-sqlite", "tokenport", "sqlite", "tokenport, ledger on (SQLite)"),
        Spec("tokenport-postgres", "tokenport", "postgresql", "tokenport, ledger on (PostgreSQL)"),
        Spec(
            "tokenport-sqlite-process",
            "tokenport",
            "sqlite",
            "tokenport, ledger on (SQLite), acknowledged after the OS write (ledger_sync=process)",
            ledger_sync="process",
        ),
        Spec("litellm", "litellm", "none", f"litellm[proxy]=={peers.LITELLM_VERSION}, no DB"),
        Spec(
            "litellm-postgres",
            "litellm",
            "postgresql",
            f"litellm[proxy]=={peers.LITELLM_VERSION}, PostgreSQL spend logs",
        ),
        Spec(
            "portkey",
            "portkey",
            "none",
            f"@portkey-ai/gateway@{peers.PORTKEY_VERSION} (Node), no DB",
        ),
    )
}


@dataclass
class Running:
    spec: Spec
    workers: int
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path
    startup_s: float = 0.0
    backlog: Callable[[], int | None] = field(default=lambda: None)
    headers: Headers = no_headers  # extra request headers per model (Portkey's routing)
    stream_failure: str | None = None  # why streams cannot be measured, when they cannot

    @property
    def chat_url(self) -> str:
        return self.base_url + "/v1/chat/completions"

    def stop(self) -> None:
        stop(self.proc)


def recreate_database(name: str) -> str:
    """A fresh, empty database for one run, so runs never see each other's rows."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise NotMeasurable(f"PostgreSQL at 127.0.0.1:5432 is not usable: {exc}") from exc
    return PG_URL.format(db=name)


def _tokenport_config(
    workdir: Path, mocks: Mapping[str, int], database_url: str | None, ledger_sync: str
) -> Path:
    lines = [f'data_dir = "{workdir / "data"}"', f'ledger_sync = "{ledger_sync}"']
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    lines += ["", "[local]", "enabled = false"]
    for name, port in mocks.items():
        lines += [
            "",
            f"[providers.{name}]",
            f'base_url = "http://127.0.0.1:{port}/v1"',
            'models = [{ id = "mock-model", input_price = 1.0, output_price = 2.0 }]',
        ]
    path = workdir / "tokenport.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _healthz_backlog(base_url: str) -> Callable[[], int | None]:
    from bench.procs import http_get

    def backlog() -> int | None:
        try:
            status, body = http_get(base_url + "/healthz", timeout=5.0)
        except OSError:
            return None
        if status != 200:
            return None
        value = json.loads(body).get("ledger_backlog")
        return int(value) if value is not None else None

    return backlog


def start_tokenport(
    spec: Spec, workers: int, mocks: Mapping[str, int], workdir: Path, cpus: str | None
) -> Running:
    db = recreate_database("tokenport_bench") if spec.ledger == "postgresql" else None
    config = _tokenport_config(workdir, mocks, db, spec.ledger_sync)
    port = free_port()
    cmd = serve_argv(config, port, "--workers", str(workers), "--log-level", "warning")
    log = workdir / "server.log"
    proc = spawn(cmd, log, cpus=cpus, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    run = Running(spec, workers, proc, base, log, backlog=_healthz_backlog(base))
    try:
        run.startup_s = wait_ready(base + "/healthz", proc, 60, log)
    except RuntimeError:
        stop(proc)
        raise
    return run


def _litellm_config(workdir: Path, mocks: Mapping[str, int], database_url: str | None) -> Path:
    models = [
        {
            "model_name": f"{name}/mock-model",
            "litellm_params": {
                "model": "openai/mock-model",
                "api_base": f"http://127.0.0.1:{port}/v1",
                "api_key": "sk-mock",
            },
        }
        for name, port in mocks.items()
    ]
    general: dict[str, object] = {}
    if database_url:
        general = {"master_key": MASTER_KEY, "database_url": database_url}
    config = {
        "model_list": models,
        "litellm_settings": {"drop_params": True, "telemetry": False},
        "general_settings": general,
    }
    path = workdir / "litellm.json"  # YAML is a superset of JSON; litellm reads it as YAML
    path.write_text(json.dumps(config, indent=2))
    return path


def _quiet_logging(workdir: Path) -> Path:
    """uvicorn's access log off, as tokenport runs it: logging is not what is measured."""
    cfg = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"h": {"class": "logging.StreamHandler"}},
        "loggers": {
            "uvicorn": {"handlers": ["h"], "level": "WARNING"},
            "uvicorn.access": {"handlers": ["h"], "level": "WARNING", "propagate": False},
        },
    }
    path = workdir / "logging.json"
    path.write_text(json.dumps(cfg))
    return path


def start_litellm(
    spec: Spec, workers: int, mocks: Mapping[str, int], workdir: Path, cpus: str | None
) -> Running:
    env = peers.litellm_env()
    db = None
    if spec.ledger == "postgresql":
        peers.require_prisma()  # raises NotMeasurable with the exact reason
        db = recreate_database("litellm_bench")
        env["DATABASE_URL"] = db
    config = _litellm_config(workdir, mocks, db)
    port = free_port()
    cmd = [
        str(peers.litellm_bin()),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        str(workers),
        "--telemetry",
        "False",
        "--log_config",
        str(_quiet_logging(workdir)),
    ]
    log = workdir / "server.log"
    proc = spawn(cmd, log, cpus=cpus, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    run = Running(spec, workers, proc, base, log)
    try:
        run.startup_s = wait_ready(base + "/health/liveliness", proc, 180, log)
    except RuntimeError:
        stop(proc)
        raise
    return run


def _portkey_headers(mocks: Mapping[str, int]) -> Headers:
    def headers(model: str) -> list[str]:
        port = mocks[model.split("/")[0]]
        return [
            "x-portkey-provider: openai",
            f"x-portkey-custom-host: http://127.0.0.1:{port}/v1",
        ]

    return headers


def _stream_probe(url: str, headers: list[str]) -> str | None:
    """None if one streamed request comes back as server-sent events; else what came back."""
    import urllib.error
    import urllib.request

    body = {
        "model": FAST_MODEL,
        "stream": True,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
    }
    h = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    h |= dict(line.split(": ", 1) for line in headers)
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=h)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    if status == 200 and raw.lstrip().startswith(b"data:"):
        return None
    return f"a streamed request answered HTTP {status}: {raw[:200].decode(errors='replace')}"


def start_portkey(
    spec: Spec, workers: int, mocks: Mapping[str, int], workdir: Path, cpus: str | None
) -> Running:
    if workers != 1:
        raise NotMeasurable("Portkey's Node server runs as one process; it has no workers flag")
    try:
        peers.ensure_portkey(workdir / "npm-install.log")
    except peers.PeerUnavailable as exc:
        raise NotMeasurable(str(exc)) from exc
    port = free_port()
    cmd = ["node", str(peers.portkey_server()), f"--port={port}", "--headless"]
    log = workdir / "server.log"
    proc = spawn(cmd, log, cpus=cpus, env={"NODE_ENV": "production"}, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    run = Running(spec, workers, proc, base, log, headers=_portkey_headers(mocks))
    try:
        run.startup_s = wait_ready(base + "/", proc, 60, log)
    except RuntimeError:
        stop(proc)
        raise
    run.stream_failure = _stream_probe(run.chat_url, run.headers(FAST_MODEL))
    return run


def start(
    key: str, workers: int, mocks: Mapping[str, int], workdir: Path, cpus: str | None
) -> Running:
    spec = SYSTEMS[key]
    workdir.mkdir(parents=True, exist_ok=True)
    starter = {"tokenport": start_tokenport, "litellm": start_litellm, "portkey": start_portkey}
    return starter[spec.family](spec, workers, mocks, workdir, cpus)
