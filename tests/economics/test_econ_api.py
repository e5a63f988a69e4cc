"""`GET /api/v1/economics`: through the routes an app mounts (in-process), and once over real HTTP
(httpx, which starlette's TestClient needs, is not installed here)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from starlette.applications import Starlette

from _helpers import asgi_get
from tokenport.api.errors import EXCEPTION_HANDLERS
from tokenport.economics.api import routes
from tokenport.economics.settings import Economics, default_economics


def _app(economics: Economics | None = None) -> Starlette:
    econ = economics or default_economics()
    return Starlette(routes=routes(lambda: econ), exception_handlers=EXCEPTION_HANDLERS)


async def _get(params: dict[str, str], app: Starlette | None = None) -> tuple[int, Any]:
    return await asgi_get(app or _app(), "/api/v1/economics", urlencode(params).encode())


async def test_one_deployment() -> None:
    status, body = await _get({"model": "Llama-3.1-70B", "gpu": "H100", "region": "cn-west"})
    assert status == 200
    assert body["region"] == "cn-west" and body["gpu_count"] == 4
    assert body["output"]["total"] > body["input"]["total"] > 0


async def test_params_mirror_the_cli() -> None:
    params = {"model": "Llama-3.1-70B", "batch": "127.61", "rental": "2", "utilization": "0.5"}
    status, body = await _get(
        {**params, "usd_per_kwh": "0.1", "pue": "1.2", "host_overhead": "1.5"}
    )
    assert status == 200
    assert body["hardware_basis"] == "rental"
    assert body["output"]["hardware"] == pytest.approx(4 * 2.0 / (3876.3 * 3600 * 0.5) * 1e6)
    assert body["output"]["energy"] == pytest.approx(0.5634 * 1.5 * 1.2 / 3.6 * 0.1)


async def test_all_regions() -> None:
    status, body = await _get({"model": "Llama-3.1-70B", "all_regions": "true"})
    assert status == 200
    assert body["regions"][0]["region"] == "cn-west"


@pytest.mark.parametrize(
    ("params", "param", "allowed"),
    [
        ({"model": "Llama-3.1-70B", "region": "mars"}, "region", "cn-west"),
        ({"model": "Llama-3.1-70B", "gpu": "TPU"}, "gpu", "H100"),
        ({"model": "Llama-3.1-70B", "colour": "red"}, "colour", "model"),
        ({"model": "Llama-3.1-70B", "all_regions": "maybe"}, "all_regions", "true"),
        ({"model": "Llama-3.1-70B", "hardware": "leased"}, "hardware", "rental"),
    ],
)
async def test_bad_params_are_400_with_allowed_values(
    params: dict[str, str], param: str, allowed: str
) -> None:
    status, body = await _get(params)
    assert status == 400
    assert body["error"]["param"] == param
    assert allowed in body["error"]["allowed"]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({}, "model"),
        ({"model": "Llama-3.1-70B", "batch": "lots"}, "batch"),
        ({"model": "Llama-3.1-70B", "gpus": "2.5"}, "gpus"),
        ({"model": "Llama-3.1-70B", "pue": "0.5"}, "pue"),
    ],
)
async def test_malformed_values_are_400_naming_the_param(
    params: dict[str, str], param: str
) -> None:
    status, body = await _get(params)
    assert status == 400 and body["error"]["param"] == param


async def test_app_state_economics_carries_config_overrides() -> None:
    econ = Economics.load({"regions": {"cn-west": {"usd_per_kwh": 0.01}}})
    status, body = await _get({"model": "Llama-3.1-70B", "region": "cn-west"}, _app(econ))
    assert status == 200 and body["usd_per_kwh"] == 0.01


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    config = uvicorn.Config(_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/api/v1/economics"
    srv.should_exit = True
    thread.join(timeout=10)


def test_over_http(server: str) -> None:
    with urllib.request.urlopen(f"{server}?model=Llama-3.1-70B&region=us-avg", timeout=10) as r:
        assert r.headers["content-type"] == "application/json"
        assert json.loads(r.read())["region"] == "us-avg"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{server}?model=Llama-3.1-70B&region=mars", timeout=10)
    assert err.value.code == 400
    assert json.loads(err.value.read())["error"]["param"] == "region"
