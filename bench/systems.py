"""The systems under test, each started the way its users run it, pointed at the same mocks.

    tokenport-sqlite     tokenport serve, ledger on (SQLite, the default)
    tokenport-postgres   tokenport serve, ledger on (PostgreSQL)
    tokenport-sqlite-process  the same as tokenport-sqlite with ledger_sync = "process"
    litellm              litellm[proxy] with no database
    litellm-postgres     litellm[proxy] with its PostgreSQL spend logs (needs prisma)

Every system serves the models `mock0/mock-model` (mock upstream, 0 ms) and
`mock50/mock-model` (50 ms), so one request body works for all of them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench import peers
from bench.procs import NotMeasurable, free_port, spawn, stop, wait_ready
from tokenport.lab.launch import serve_argv

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{db}"
MASTER_KEY = "sk-bench"


@dataclass(frozen=True)
class Spec:
    key: str
    family: str  # "tokenport" or "litellm"
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


def start(
    key: str, workers: int, mocks: Mapping[str, int], workdir: Path, cpus: str | None
) -> Running:
    spec = SYSTEMS[key]
    workdir.mkdir(parents=True, exist_ok=True)
    starter = start_tokenport if spec.family == "tokenport" else start_litellm
    return starter(spec, workers, mocks, workdir, cpus)
