"""`sort: "cost"` over self-hosted deployments: cheap power when latency allows, near otherwise."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tokenport.config import DeploymentConfig
from tokenport.errors import ConfigError
from tokenport.lab.fake import FakeUpstream
from tokenport.providers.deployments import profile

LLAMA = "Llama-3.1-70B-Instruct"
MSG: list[Any] = [{"role": "user", "content": "write a function that adds two numbers"}]


def _deployments(region_far: str, region_near: str) -> dict[str, Any]:
    def model(price: float) -> list[dict[str, Any]]:
        return [
            {"id": "fake-model", "slug": "fake-model", "input_price": price, "output_price": price}
        ]

    return {
        "far_extra": {
            "rtt_ms": 220,
            "models": model(0.0),
            "deployment": {"model": LLAMA, "gpu": "H100", "region": region_far},
        },
        "near_extra": {
            "rtt_ms": 15,
            "models": model(0.0),
            "deployment": {"model": LLAMA, "gpu": "H100", "region": region_near},
        },
    }


def _ask(gw: Any, provider: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if title:
        headers["X-Title"] = title
    body = {"model": "fake-model", "messages": MSG, "provider": provider}
    req = urllib.request.Request(
        gw.base_url + "/v1/chat/completions",
        method="POST",
        data=json.dumps(body).encode(),
        headers=headers,
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        gen_id = json.loads(r.read())["id"]
    with urllib.request.urlopen(f"{gw.base_url}/api/v1/generation?id={gen_id}") as r:
        return dict(json.loads(r.read())["data"])


def test_cost_model_prices_regions_apart() -> None:
    west, west_rate = profile("far", DeploymentConfig(model=LLAMA, region="cn-west"))
    cal, cal_rate = profile("near", DeploymentConfig(model=LLAMA, region="us-ca"))
    assert west.output < cal.output  # same hardware, cheaper power
    assert west_rate.usd_per_kwh < cal_rate.usd_per_kwh
    wh, usd = west_rate.of(100, 200)
    assert wh > 0 and usd == pytest.approx(wh / 1000 * west_rate.usd_per_kwh)


def test_tolerant_work_goes_to_cheap_power_interactive_stays_near(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"far": fake, "near": fake2}, **_deployments("cn-west", "us-ca"))
    interactive = _ask(gw, {"sort": "cost"})
    assert interactive["provider_name"] == "near" and interactive["region"] == "us-ca"
    tolerant = _ask(gw, {"sort": "cost", "latency": "tolerant"})
    assert tolerant["provider_name"] == "far" and tolerant["region"] == "cn-west"
    agent = _ask(gw, {"sort": "cost"}, title="Cline")  # a coding agent: latency-tolerant
    assert agent["provider_name"] == "far"
    budget = _ask(gw, {"sort": "cost", "max_rtt_ms": 500})
    assert budget["provider_name"] == "far"
    for gen in (interactive, tolerant):
        assert gen["energy_wh"] > 0 and gen["energy_cost"] > 0
    # the far region's electricity is cheaper per Wh
    assert (
        tolerant["energy_cost"] / tolerant["energy_wh"]
        < interactive["energy_cost"] / interactive["energy_wh"]
    )


def test_out_of_reach_only_is_a_clear_400(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"far": fake, "near": fake2}, **_deployments("cn-west", "us-ca"))
    body = {"model": "far/fake-model", "messages": MSG}
    req = urllib.request.Request(
        gw.base_url + "/v1/chat/completions",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400
    assert "latency budget" in json.loads(err.value.read())["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model": "no-such-model"}, "model"),
        ({"model": LLAMA, "region": "mars"}, "region"),
        ({"model": LLAMA, "gpu": "Z9000"}, "gpu"),
    ],
)
def test_bad_deployment_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        profile("edge", DeploymentConfig(**fields))
    assert err.value.message.startswith(f"providers.edge.deployment.{field}")
