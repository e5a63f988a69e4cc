"""A cascade pool through a real gateway, with fake upstreams scripted to be right or wrong.

The router is trained on `tests/_cascade_synth.py`'s `pair_rows`: the cheap model is right
exactly when the sum it writes out is right, so its trust model learns to escalate answers
whose arithmetic does not hold. The cheap upstream (`cheap/fake-model`, $0.1/$0.3 per M)
and the strong one (`strong/fake-model`, $10/$30) answer what each test scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _cascade_synth import CHEAP, STRONG, sum_answer, sum_prompt, write_pair
from _helpers import http_json, http_raw, one_fake_model
from tokenport.lab.fake import FakeUpstream, Script
from tokenport.lab.router.data import load_dataset
from tokenport.lab.router.train import train_router

PROMPT = sum_prompt(3, 4)
RIGHT = sum_answer(3, 4, 7)
WRONG = sum_answer(3, 4, 9)
STRONG_TEXT = "3 + 4 = 7.\n#### 7"
ASK: list[Any] = [{"role": "user", "content": PROMPT}]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cascade")
    out = folder / "router.npz"
    train_router(load_dataset(write_pair(folder / "sums.jsonl"))).save(out)
    return out


def _gateway(
    factory: Any, cheap: FakeUpstream, strong: FakeUpstream, artifact: Path, **pool: Any
) -> Any:
    return factory(
        {"cheap": cheap, "strong": strong},
        cheap_extra=one_fake_model(0.1),
        strong_extra=one_fake_model(10.0),
        auto={
            "artifact": str(artifact),
            "pools": {
                "default": {
                    "mode": "cascade",
                    "models": {CHEAP: "cheap/fake-model", STRONG: "strong/fake-model"},
                    "threshold": 0.5,
                    **pool,
                }
            },
        },
    )


def _ask(gw: Any, **fields: Any) -> tuple[int, dict[str, str], Any]:
    status, headers, raw = http_raw(
        "POST", gw.base_url + "/v1/chat/completions", {"model": "auto", "messages": ASK, **fields}
    )
    return status, headers, json.loads(raw) if not fields.get("stream") else raw.decode()


def _generation(gw: Any, gen_id: str) -> dict[str, Any]:
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}")
    assert status == 200, body
    return dict(body["data"])


def test_a_right_cheap_answer_is_served_and_a_wrong_one_escalates(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    fake.set_script(Script(text=RIGHT))
    fake2.set_script(Script(text=STRONG_TEXT))
    status, headers, body = _ask(gw)
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == RIGHT
    assert headers["x-tokenport-auto-verdict"] == "trusted"
    assert headers["x-tokenport-auto-model"] == "cheap/fake-model"
    assert headers["x-tokenport-auto-calls"] == "1" and len(fake2.requests) == 0
    auto = body["auto"]
    assert (
        auto["mode"] == "cascade" and auto["verdict"] == "trusted" and auto["requested"] == "auto"
    )
    assert auto["predicted_gain"] <= auto["threshold"] and auto["overhead_ms"] < 50
    gen = _generation(gw, body["id"])
    assert gen["model_requested"] == "auto" and gen["provider_name"] == "cheap"
    assert [a["role"] for a in gen["attempts"]] == ["cheap"]
    assert gen["total_cost"] == pytest.approx(gen["attempts"][0]["cost"])

    fake.set_script(Script(text=WRONG))
    status, headers, body = _ask(gw)
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == STRONG_TEXT
    assert headers["x-tokenport-auto-verdict"] == "escalated"
    assert headers["x-tokenport-auto-model"] == "strong/fake-model"
    assert float(headers["x-tokenport-auto-gain"]) > 0.5
    gen = _generation(gw, body["id"])
    roles = [(a["role"], a["status"]) for a in gen["attempts"]]
    assert roles == [("cheap", "ok"), ("strong", "ok")]
    costs = [a["cost"] for a in gen["attempts"]]
    assert all(c > 0 for c in costs) and costs[1] > 10 * costs[0]
    assert gen["total_cost"] == pytest.approx(sum(costs))  # every call of the cascade is paid
    assert gen["provider_name"] == "strong"
    usage = body["usage"]  # the answer's usage counts both calls' tokens, as the record does
    assert usage["prompt_tokens"] == gen["tokens_prompt"]


def test_streams_hold_the_cheap_answer_until_verified(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    fake.set_script(Script(text=RIGHT))
    fake2.set_script(Script(text=STRONG_TEXT, chunks=4))
    for cheap_text, expect, verdict in (
        (RIGHT, RIGHT, "trusted"),
        (WRONG, STRONG_TEXT, "escalated"),
    ):
        fake.set_script(Script(text=cheap_text))
        status, headers, raw = _ask(gw, stream=True, stream_options={"include_usage": True})
        assert status == 200
        assert headers["x-tokenport-auto-verdict"] == verdict
        assert float(headers["x-tokenport-auto-held-ms"]) >= 0
        events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
        text = "".join(
            e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")
        )
        assert text == expect
        assert raw.rstrip().endswith("data: [DONE]")
        usage = [e["usage"] for e in events if e.get("usage")]
        gen = _generation(gw, events[0]["id"])
        assert usage and usage[-1]["prompt_tokens"] == gen["tokens_prompt"]
        assert gen["streamed"] is True
        assert gen["total_cost"] == pytest.approx(
            sum(a["cost"] or 0 for a in gen["attempts"])
            if verdict == "trusted"
            else gen["total_cost"]
        )
    # The cheap request never streams: it is held whole to be verified.
    assert all(r.body.get("stream") in (None, False) for r in fake.requests)


def test_the_anthropic_door_gets_the_cascade_too(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    fake.set_script(Script(text=WRONG))
    fake2.set_script(Script(text=STRONG_TEXT))
    status, headers, raw = http_raw(
        "POST",
        gw.base_url + "/v1/messages",
        {"model": "auto", "max_tokens": 200, "messages": ASK},
        headers={"anthropic-version": "2023-06-01"},
    )
    assert status == 200, raw
    body = json.loads(raw)
    assert body["content"][0]["text"] == STRONG_TEXT
    assert headers["x-tokenport-auto-verdict"] == "escalated"
    assert len(fake.requests) == 1 and len(fake2.requests) == 1


def test_the_strong_model_failing_serves_the_held_cheap_answer(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    fake.set_script(Script(text=WRONG))
    fake2.set_script(Script(status=500))
    status, headers, body = _ask(gw)
    assert status == 200, body
    assert headers["x-tokenport-auto-verdict"] == "fallback"
    assert body["choices"][0]["message"]["content"] == WRONG
    gen = _generation(gw, body["id"])
    assert gen["provider_name"] == "cheap" and gen["attempts"][-1]["status"] == "error"

    fake.set_script(Script(status=500))  # both fail: an error, recorded once
    status, _, body = _ask(gw)
    assert status >= 500


def test_runtime_verifiers_can_only_escalate(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    fake2.set_script(Script(text=STRONG_TEXT))
    # self_check: the cheap model, asked about its own (right) answer, says no.
    gw = _gateway(gateway_factory, fake, fake2, artifact, verifiers=["self_check"])
    fake.set_script(Script(text=RIGHT))
    fake.push(Script(text=RIGHT), Script(text="No."))
    _, headers, body = _ask(gw)
    assert headers["x-tokenport-auto-verdict"] == "escalated", body["auto"]
    assert "self-check" in body["auto"]["reason"]
    assert [c["role"] for c in body["auto"]["calls"]] == ["cheap", "self_check", "strong"]
    check = fake.requests[-1].body["messages"][0]["content"]
    assert PROMPT in check and RIGHT in check  # the self-check shows the question and answer
    fake.push(Script(text=RIGHT), Script(text="Yes"))
    _, headers, body = _ask(gw)
    assert headers["x-tokenport-auto-verdict"] == "trusted"

    # agreement: a second sample that reaches another number escalates.
    gw.stop()  # one gateway at a time owns the data directory's journal
    gw = _gateway(gateway_factory, fake, fake2, artifact, verifiers=["agreement"])
    fake.push(Script(text=RIGHT), Script(text=sum_answer(3, 4, 7).replace("7", "8")))
    _, headers, body = _ask(gw)
    assert headers["x-tokenport-auto-verdict"] == "escalated" and "sample" in body["auto"]["reason"]
    fake.push(Script(text=RIGHT), Script(text=RIGHT))
    _, headers, body = _ask(gw)
    assert headers["x-tokenport-auto-verdict"] == "trusted"
    assert fake.requests[-1].body.get("temperature") == pytest.approx(0.7)

    # logprobs: the fake's tokens all have logprob -0.25; a floor above that escalates.
    for floor, verdict in ((-0.1, "escalated"), (-1.0, "trusted")):
        gw.stop()
        gw = _gateway(
            gateway_factory, fake, fake2, artifact, verifiers=["logprobs"], logprob_floor=floor
        )
        fake.set_script(Script(text=RIGHT))
        _status, headers, body = _ask(gw)
        assert headers["x-tokenport-auto-verdict"] == verdict, body["auto"]
        assert fake.requests[-1].body.get("logprobs") is True
        assert "logprobs" not in body["choices"][0] or body["choices"][0]["logprobs"] is None


def test_a_cascade_pool_needs_a_cascade_and_every_model(artifact: Path) -> None:
    from tokenport.config import AutoPoolConfig
    from tokenport.errors import ConfigError
    from tokenport.routing.auto.model import RouterArtifact
    from tokenport.routing.cascade_plan import check_pool

    meta = RouterArtifact.load(artifact).meta.cascade
    assert meta is not None
    half = AutoPoolConfig(mode="cascade", models={CHEAP: "cheap/fake-model"})
    with pytest.raises(ConfigError, match=STRONG):
        check_pool("default", half, meta)
    whole = AutoPoolConfig(mode="cascade", models={CHEAP: "c/m", STRONG: "s/m"})
    with pytest.raises(ConfigError, match="no cascade"):
        check_pool("default", whole, None)
    check_pool("default", whole, meta)


def test_tools_fall_back_to_one_model_and_feedback_names_the_answering_model(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _gateway(gateway_factory, fake, fake2, artifact)
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    fake.set_script(Script(text=RIGHT, tool_calls=False))
    fake2.set_script(Script(text=STRONG_TEXT, tool_calls=False))
    status, headers, body = _ask(gw, tools=tools)
    assert status == 200 and "tools" in body["auto"]["cascade_skipped"]
    assert "x-tokenport-auto-verdict" not in headers

    status, headers, body = _ask(gw)
    assert headers["x-tokenport-auto-verdict"] == "trusted"
    feedback = {"id": body["id"], "score": 0.0}
    status, out = http_json("POST", gw.base_url + "/api/v1/feedback", feedback)
    assert status == 200, out
    recent = gw.state.router.auto._recent[body["id"]]
    assert recent[1] == CHEAP
