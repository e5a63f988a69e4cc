"""With `require_keys = true`: nothing answers without a key, a key reads only its own
generations, rankings are public only where the operator says so, and the auto router
learns only from keys scoring their own generations, a bounded number of times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _helpers import http_json
from tokenport.lab.fake import FakeUpstream

ADMIN = "admin-secret-for-privacy-tests-0123"
MODEL = "fakeoa/fake-model"
MSG: list[Any] = [{"role": "user", "content": "hello there"}]
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
GSM8K = Path(__file__).resolve().parents[2] / "data" / "routing" / "gsm8k.jsonl"
READS = (
    "/api/v1/rankings",
    "/dashboard",
    "/api/v1/generation?id=gen-x",
    "/api/v1/economics?model=Llama-3.1-70B",
    "/v1/models",
    "/api/v1/models",
)


def _gateway(factory: Any, fakes: dict[str, FakeUpstream], **extra: Any) -> Any:
    return factory(fakes, env={"TOKENPORT_ADMIN_KEY": ADMIN}, require_keys=True, **extra)


def _key(gw: Any, name: str) -> tuple[str, str]:
    status, out = http_json("POST", gw.base_url + "/api/v1/keys", {"name": name}, ADMIN)
    assert status == 201, out
    return out["key"], out["data"]["id"]


def _chat(gw: Any, secret: str, app: str, model: str = MODEL) -> dict[str, Any]:
    status, body = http_json(
        "POST",
        gw.base_url + "/v1/chat/completions",
        {"model": model, "messages": MSG},
        secret,
        headers={"X-Title": app},
    )
    assert status == 200, body
    return dict(body)


def _get(gw: Any, path: str, token: str | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(gw.base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw = r.read()
            return r.status, json.loads(
                raw
            ) if r.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def _wait_for_rollups(gw: Any) -> None:
    import time

    deadline = time.monotonic() + 10
    while _get(gw, "/api/v1/rankings?by=model", ADMIN)[1]["empty"]:
        assert time.monotonic() < deadline, "the ledger did not reach the rollups"
        time.sleep(0.05)


def test_no_read_endpoint_answers_without_a_key(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, {"fakeoa": fake})
    for path in READS:
        assert _get(gw, path)[0] == 401, path
    assert "Basic" in _get(gw, "/dashboard")[1]["WWW-Authenticate"]  # the browser asks
    assert "Basic" in _get(gw, "/api/v1/rankings")[1]["WWW-Authenticate"]
    secret, _ = _key(gw, "alice")
    for path in ("/v1/models", "/api/v1/economics?model=Llama-3.1-70B", "/dashboard"):
        assert _get(gw, path, secret)[0] == 200, path
    health = http_json("GET", gw.base_url + "/healthz")[1]
    assert set(health) == {"status", "uptime_s"}  # no providers or addresses to anyone


def test_a_key_reads_only_its_own_generations(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = _gateway(gateway_factory, {"fakeoa": fake})
    alice, _ = _key(gw, "alice")
    bob, _ = _key(gw, "bob")
    gen = _chat(gw, alice, "alice-app")["id"]
    path = f"/api/v1/generation?id={gen}"
    status, body = _get(gw, path, alice)
    assert status == 200 and body["data"]["app"] == "alice-app"
    assert _get(gw, path, bob)[0] == 404  # exactly like an id that does not exist
    assert _get(gw, path)[0] == 401
    assert _get(gw, path, ADMIN)[0] == 200  # the admin key sees everything


def test_rankings_are_private_unless_the_operator_publishes_sections(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, {"fakeoa": fake}, public_rankings=["model", "author", "country"])
    alice, _ = _key(gw, "alice-secret-project")
    _chat(gw, alice, "alice-private-app")
    _wait_for_rollups(gw)
    # public: anyone, with or without a key, gets models, authors and countries only
    for token in (None, alice):
        status, body = _get(gw, "/api/v1/rankings", token)
        assert status == 200
        assert set(body["sections"]) == {"model", "author", "country"}
        text = json.dumps(body)
        assert "alice-secret-project" not in text and "alice-private-app" not in text
        for section in ("key", "app", "geography"):
            assert _get(gw, f"/api/v1/rankings?by=model,{section}", token)[0] == 403, section
    # the admin key reads every section, key names and apps included
    status, body = _get(gw, "/api/v1/rankings", ADMIN)
    assert status == 200 and set(body["sections"]) >= {"key", "app", "geography"}
    text = json.dumps(body)
    assert "alice-secret-project" in text and "alice-private-app" in text


def test_rankings_without_public_sections_refuse_keys(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = _gateway(gateway_factory, {"fakeoa": fake})
    alice, _ = _key(gw, "alice")
    _chat(gw, alice, "an-app")
    assert _get(gw, "/api/v1/rankings")[0] == 401
    status, _ = _get(gw, "/api/v1/rankings", alice)
    assert status == 403
    assert _get(gw, "/api/v1/rankings", ADMIN)[0] == 200


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenport.lab.router.data import load_dataset
    from tokenport.lab.router.train import train_router

    lines = GSM8K.read_text(encoding="utf-8").split("\n")
    small = tmp_path_factory.mktemp("router") / "gsm8k-small.jsonl"
    small.write_text("\n".join(lines[:301]) + "\n", encoding="utf-8")
    out = small.with_name("router.npz")
    train_router(load_dataset(small)).save(out)
    return out


def _auto_gateway(factory: Any, fake: FakeUpstream, fake2: FakeUpstream, artifact: Path) -> Any:
    def models(price: float) -> dict[str, Any]:
        return {"models": [{"id": "fake-model", "input_price": price, "output_price": price}]}

    return _gateway(
        factory,
        {"cheap": fake, "strong": fake2},
        cheap_extra=models(0.1),
        strong_extra=models(10.0),
        auto={
            "artifact": str(artifact),
            "feedback_per_key_per_minute": 5,
            "pools": {
                "default": {"models": {WEAK: "cheap/fake-model", STRONG: "strong/fake-model"}}
            },
        },
    )


def _score(gw: Any, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
    return http_json("POST", gw.base_url + "/api/v1/feedback", body, token)


def test_feedback_needs_a_key_its_own_generation_and_is_bounded(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any, artifact: Path
) -> None:
    gw = _auto_gateway(gateway_factory, fake, fake2, artifact)
    alice, _ = _key(gw, "alice")
    bob, _ = _key(gw, "bob")
    gen = _chat(gw, alice, "a", model="auto")["id"]
    assert _score(gw, {"id": gen, "score": 0.0}, None)[0] == 401
    assert _score(gw, {"id": gen, "score": 0.0}, bob)[0] == 404  # not bob's generation
    direct = {"prompt": "2+2?", "model": STRONG, "score": 0.0}
    assert _score(gw, direct, alice)[0] == 403  # arbitrary prompts: the operator only
    assert _score(gw, direct, ADMIN)[0] == 200
    assert _score(gw, {"id": gen, "score": 0.0}, alice)[0] == 200
    assert _score(gw, {"id": gen, "score": 0.0}, alice)[0] == 400  # once per generation
    # bounded per key: 5 a minute (two used above, the refused ones count too)
    statuses = []
    for _ in range(6):
        statuses.append(
            _score(gw, {"id": _chat(gw, alice, "a", "auto")["id"], "score": 0}, alice)[0]
        )
    assert statuses[-1] == 429 and statuses.count(200) <= 3, statuses
    log = gw.state.settings.data_dir / "router-feedback.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["key_id"] for e in events} >= {None}  # the admin's direct label has no key
    assert all(e["gen_id"] for e in events if e["key_id"])


def test_anonymous_feedback_in_the_log_is_not_replayed_where_keys_are_required(
    tmp_path: Path, artifact: Path
) -> None:
    import numpy as np

    from tokenport.config import Settings
    from tokenport.routing.auto.decide import AutoRouter
    from tokenport.routing.auto.feedback import FeedbackLog, event_for
    from tokenport.routing.autoroute import AutoRouting
    from tokenport.tokens import TokenCounter

    clean = AutoRouter.load(artifact)
    log = FeedbackLog(tmp_path / "router-feedback.jsonl")
    prompt = "Janet has 16 eggs and eats 3. How many left?"
    for _ in range(2400):  # the poison: anonymous posts, as before feedback needed a key
        log.append(event_for(clean, prompt, STRONG, 0.0))
    keyed = event_for(clean, prompt, WEAK, 1.0, gen_id="gen-1", key_id="key_A")
    log.append(keyed)

    def routing(require_keys: bool) -> AutoRouting:
        settings = Settings.model_validate(
            {
                "data_dir": str(tmp_path),
                "require_keys": require_keys,
                "local": {"enabled": False},
                "auto": {"artifact": str(artifact)},
            }
        )
        found = AutoRouting.from_settings(settings, lambda _: None, TokenCounter())
        assert found is not None
        return found

    strict, open_ = routing(True), routing(False)
    weights = clean.artifact.weights
    strong = clean.models.index(STRONG)
    # the poison moved the open gateway's router, and not the strict one's
    assert not np.allclose(open_.router.artifact.weights[:, strong], weights[:, strong])
    assert np.allclose(strict.router.artifact.weights[:, strong], weights[:, strong])
    # the keyed event is replayed, and its generation cannot be scored again
    assert not np.allclose(strict.router.artifact.weights, weights)
    with pytest.raises(Exception, match="already been scored"):
        strict.learn("gen-1", 1.0, prompt, WEAK, "key_A")
