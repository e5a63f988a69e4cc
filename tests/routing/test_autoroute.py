"""`model: "auto"` through the real gateway: a router trained on real data picks the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json, one_fake_model
from tokenport.lab.fake import FakeUpstream
from tokenport.lab.router.data import load_dataset
from tokenport.lab.router.train import train_router

WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "routing"
MATH: list[Any] = [{"role": "user", "content": "Janet has 16 eggs and eats 3. How many left?"}]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = SHARED / "gsm8k.jsonl"
    if not source.exists():
        source = Path("/work/shared/data/routing/gsm8k.jsonl")
    lines = source.read_text(encoding="utf-8").split("\n")
    small = tmp_path_factory.mktemp("router") / "gsm8k-small.jsonl"
    small.write_text("\n".join(lines[:301]) + "\n", encoding="utf-8")  # header + 300 rows
    out = small.with_name("router.npz")
    train_router(load_dataset(small)).save(out)
    return out


def _gateway(factory: Any, fake: FakeUpstream, fake2: FakeUpstream, artifact: Path) -> Any:
    return factory(
        {"cheap": fake, "strong": fake2},
        cheap_extra=one_fake_model(0.1),
        strong_extra=one_fake_model(10.0),
        auto={
            "artifact": str(artifact),
            "feedback_per_key_per_minute": 100,
            "pools": {
                "default": {
                    "models": {WEAK: "cheap/fake-model", STRONG: "strong/fake-model"},
                    "tradeoff": 0.0,
                }
            },
        },
    )


def _ask(gw: Any, **fields: Any) -> tuple[int, Any]:
    return http_json(
        "POST", gw.base_url + "/v1/chat/completions", {"model": "auto", "messages": MATH, **fields}
    )


def test_auto_routes_and_says_why(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    status, body = _ask(gw)  # tradeoff 0: the best predicted quality
    assert status == 200, body
    auto = body["auto"]
    assert auto["requested"] == "auto" and auto["model"] == body["model"]
    assert auto["model"] == "strong/fake-model"  # GPT-4 is predicted better on math
    assert 0 <= auto["predicted_quality"] <= 1 and auto["expected_cost"] > 0 and auto["reason"]
    gen = http_json("GET", f"{gw.base_url}/api/v1/generation?id={body['id']}")[1]["data"]
    assert gen["model_requested"] == "auto" and gen["provider_name"] == "strong"

    status, cheap = _ask(gw, auto={"quality_floor": 0.0})  # anything will do: the cheapest
    assert status == 200 and cheap["auto"]["model"] == "cheap/fake-model"
    strong_cost = auto["expected_cost"]
    status, capped = _ask(gw, auto={"max_price": strong_cost / 10})
    assert status == 200 and capped["auto"]["model"] == "cheap/fake-model"
    status, err = _ask(gw, auto={"max_price": 1e-12})
    assert status == 400 and "cheapest" in err["error"]["message"]
    status, err = _ask(gw, model="auto:nope")
    assert status == 400 and "default" in err["error"]["message"]


def test_feedback_teaches_the_router(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    status, body = _ask(gw)
    before = body["auto"]["predicted_quality"]
    for _ in range(20):  # the strong model keeps failing this prompt, each generation once
        status, out = http_json(
            "POST", gw.base_url + "/api/v1/feedback", {"id": body["id"], "score": 0.0}
        )
        assert status == 200 and out["data"]["learned"] is True
        again = http_json("POST", gw.base_url + "/api/v1/feedback", {"id": body["id"], "score": 0})
        assert again[0] == 400 and "already been scored" in again[1]["error"]["message"]
        status, body = _ask(gw)
    after = body
    assert after["auto"]["router_model"] != STRONG or (after["auto"]["predicted_quality"] < before)
    log = gw.state.settings.data_dir / "router-feedback.jsonl"
    assert len(log.read_text().splitlines()) == 20
    assert (
        http_json("POST", gw.base_url + "/api/v1/feedback", {"id": "gen-unknown", "score": 1.0})[0]
        == 404
    )
    assert (
        http_json("POST", gw.base_url + "/api/v1/feedback", {"id": body["id"], "score": 7})[0]
        == 400
    )


def test_auto_without_router_is_a_clear_400(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake})
    status, err = http_json(
        "POST", gw.base_url + "/v1/chat/completions", {"model": "auto", "messages": MATH}
    )
    assert status == 400 and "tokenport router train" in err["error"]["message"]
