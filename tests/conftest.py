"""Shared fixtures: fake upstreams on loopback and a real gateway served by uvicorn.

The gateway runs in a thread with its own event loop so tests can use the official
synchronous `openai` and `anthropic` SDKs against it, as a user would.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
import pytest
import uvicorn

if TYPE_CHECKING:
    # Imported lazily below so that area test suites can run while other areas are unbuilt.
    from tokenport.api.state import State
    from tokenport.catalog.store import Catalog
    from tokenport.config import Settings
    from tokenport.lab.fake import FakeUpstream

FAKE_OA_PRICE = {"input_price": 1.0, "output_price": 2.0, "cache_read_price": 0.1}
FAKE_ANT_PRICE = {
    "input_price": 3.0,
    "output_price": 15.0,
    "cache_read_price": 0.3,
    "cache_write_price": 3.75,
}


_SERVICES = {
    5432: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -1) main start",
    6379: "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# Tests that start processes (`tokenport serve`, agents, browsers, tools) or run long
# generated searches: `pytest -m "not slow"` leaves them out for a quick inner loop.
SLOW_MODULES = (
    "tests/test_readme_commands.py",
    "tests/bench/",
    "tests/test_local_model.py",
    "tests/api/test_openapi_fuzz.py",
    "tests/api/test_doors_bad_input.py",
    "tests/test_serve_lifecycle.py",
    "tests/test_server_process.py",
    "tests/test_db_outage.py",
    "tests/test_lint.py",
    "tests/coding_agents/",
    "tests/security/test_charges_kill.py",
    "tests/security/test_holds_e2e.py",
    "tests/security/test_replicas.py",
    "tests/security/test_money_replicas.py",
    "tests/cli/test_keys.py",
    "tests/abusescan/test_scenario.py",
    "tests/lab/test_simulate.py",
    "tests/cli/test_lab.py",
    "tests/analytics/test_dashboard_access.py",
    "tests/cli/test_analytics.py",
    "tests/lab/claims/test_page_runtime.py",
    "tests/lab/claims/test_page.py",
    "tests/cli/test_economics.py",
    "tests/cli/test_router.py",
    "tests/lab/router/test_baselines.py",
    "tests/ledger/test_kill.py",
    "tests/catalog/test_models_agree.py",
    "tests/cli/test_catalog.py",
    "tests/db/test_db_upgrade.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        if any(part in path for part in SLOW_MODULES):
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start PostgreSQL and Redis when installed but stopped, so one command runs everything.

    Tests that need them still fail with a clear message if this could not help.
    """
    import subprocess

    for port, cmd in _SERVICES.items():
        if not _port_open(port):
            subprocess.run(cmd, shell=True, capture_output=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningGateway:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    state: State

    def client(self, **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url + "/v1",
            api_key="sk-test",
            max_retries=0,
            timeout=kw.pop("timeout", 20.0),
            **kw,
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class QuickServer(uvicorn.Server):
    """uvicorn, ticking every 10 ms instead of 100: a test gateway stops in milliseconds,
    not 0.2 s (uvicorn's own tick and grace sleep), which is most of the inner loop's time
    across some 250 gateways. Shutdown otherwise does what uvicorn's does."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(500):  # up to 5 s for connections and tasks to finish
            if not (self.server_state.connections or self.server_state.tasks):
                break
            await asyncio.sleep(0.01)
        for task in self.server_state.tasks:
            task.cancel()
        await self.lifespan.shutdown()


def start_gateway(
    settings: Settings,
    *,
    local_base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
) -> RunningGateway:
    from tokenport.api.app import create_app

    app = create_app(settings, local_base_url=local_base_url, env=env or {}, catalog=catalog)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        loop="asyncio",
        proxy_headers=False,  # as `tokenport serve`: trusted_proxies decide (clientip.py)
    )
    server = QuickServer(config)
    thread = threading.Thread(target=server.run, daemon=True, name="gateway")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start; see the log above")
        time.sleep(0.02)
    return RunningGateway(f"http://127.0.0.1:{port}", server, thread, app.state.tp)


def fake_settings(tmp: Path, fakes: Mapping[str, FakeUpstream], **extra: Any) -> Settings:
    """Settings that declare each fake as a provider. Names starting with `ant` speak Anthropic."""
    from tokenport.config import Settings

    providers: dict[str, Any] = {}
    for name, fake in fakes.items():
        anthropic = name.startswith("ant")
        providers[name] = {
            "base_url": fake.base_url if anthropic else fake.base_url + "/v1",
            "protocol": "anthropic" if anthropic else "openai",
            "models": [
                {
                    "id": "fake-claude" if anthropic else "fake-model",
                    "slug": "fake-model",
                    "author": "tokenport",
                    "country": "US",
                    "context_length": 8192,
                    **(FAKE_ANT_PRICE if anthropic else FAKE_OA_PRICE),
                },
            ],
            **extra.pop(f"{name}_extra", {}),
        }
    raw = {
        "data_dir": str(tmp),
        "local": {"enabled": False},
        "providers": providers,
        "attempt_timeout_s": 2.0,
        "stream_idle_timeout_s": 2.0,
        **extra,
    }
    return Settings.model_validate(raw)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    from tokenport.catalog.store import Catalog

    return Catalog.load()


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    from tokenport.lab.fake import FakeUpstream

    f = FakeUpstream.start_in_thread()
    yield f
    f.stop()


@pytest.fixture
def fake2() -> Iterator[FakeUpstream]:
    from tokenport.lab.fake import FakeUpstream

    f = FakeUpstream.start_in_thread()
    yield f
    f.stop()


@pytest.fixture
def gateway_factory(tmp_path: Path, catalog: Catalog) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def make(
        fakes: Mapping[str, FakeUpstream], env: Mapping[str, str] | None = None, **extra: Any
    ) -> RunningGateway:
        gw = start_gateway(fake_settings(tmp_path, fakes, **extra), env=env, catalog=catalog)
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()


PG_DSN = os.environ.get("TOKENPORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TOKENPORT_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; fails loudly (never hangs) if PostgreSQL is down."""
    import uuid

    import psycopg

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL not reachable at {PG_DSN}: {exc}. Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect 15 main start",
            pytrace=False,
        )
    schema = f"tp_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tokenport.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database flushed around the test; fails loudly if Redis is down."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis not reachable at {REDIS_URL}: {exc}. Start it with: "
            "redis-server --daemonize yes --port 6379",
            pytrace=False,
        )
    yield REDIS_URL
    client.flushdb()
    client.close()
