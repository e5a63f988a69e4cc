"""The response cache through a real gateway: a hit never reaches the upstream, streams
replay as streams, every door uses it, errors and sampled answers are not stored, entries
are scoped per key, hits are recorded (no tokens, the cost saved) and free unless charged,
and Redis shares entries between gateways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from _grammar import check_anthropic, check_chat, check_responses, parse_sse
from _helpers import http_json, http_raw
from tokenport.lab.fake import FakeUpstream, Script

ADMIN = "admin-secret-cache-0123456789"
MODEL = "fakeoa/fake-model"
MESSAGES: list[Any] = [{"role": "user", "content": "what is two plus two"}]
CACHE = {"X-Tokenport-Cache": "true"}


def _chat(gw: Any, headers: dict[str, str], key: str = "sk-test", **body: Any) -> Any:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0)
    return client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, extra_headers=headers, **body
    )


def _generation(gw: Any, gen_id: str) -> dict[str, Any]:
    status, body = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}", token=ADMIN)
    assert status == 200, body
    return dict(body["data"])


def _upstream_calls(fake: FakeUpstream) -> int:
    return len([r for r in fake.requests if r.method == "POST"])


def test_a_hit_skips_the_upstream_and_is_recorded_as_a_hit(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    fake.set_script(Script(text="four, as it happens"))
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})
    first = _chat(gw, CACHE, temperature=0)
    second = _chat(gw, CACHE, temperature=0)
    assert first.headers["x-tokenport-cache"] == "MISS"
    assert second.headers["x-tokenport-cache"] == "HIT"
    assert _upstream_calls(fake) == 1
    a, b = first.parse(), second.parse()
    assert b.choices[0].message.content == a.choices[0].message.content == "four, as it happens"
    assert b.id != a.id  # every answer has its own generation id
    assert a.usage is not None and b.usage is not None
    assert b.usage.completion_tokens == a.usage.completion_tokens  # the answer's own usage
    miss, hit = _generation(gw, a.id), _generation(gw, b.id)
    assert not miss["cache_hit"] and miss["total_cost"] > 0
    assert hit["cache_hit"] and hit["provider_name"] == "cache"
    assert hit["model"] == MODEL and hit["status"] == "ok"
    assert hit["tokens_prompt"] == hit["tokens_completion"] == 0  # nothing processed upstream
    assert hit["total_cost"] == 0
    assert hit["cache_saved"] == pytest.approx(miss["total_cost"])
    # Without the header, the cache is not consulted.
    plain = _chat(gw, {}, temperature=0)
    assert "x-tokenport-cache" not in plain.headers
    assert _upstream_calls(fake) == 2
    # OpenRouter's header is an alias.
    alias = _chat(gw, {"X-OpenRouter-Cache": "true"}, temperature=0)
    assert alias.headers["x-tokenport-cache"] == "HIT"


def test_streams_replay_as_streams(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="one two three four five", chunks=5))
    gw = gateway_factory({"fakeoa": fake})
    body = {
        "model": MODEL,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = gw.base_url + "/v1/chat/completions"
    s1, h1, raw1 = http_raw("POST", url, body, CACHE)
    s2, h2, raw2 = http_raw("POST", url, body, CACHE)
    assert s1 == s2 == 200
    assert (h1["x-tokenport-cache"], h2["x-tokenport-cache"]) == ("MISS", "HIT")
    assert h2["content-type"].startswith("text/event-stream")
    first, again = parse_sse(raw1), parse_sse(raw2)
    check_chat(again, usage_chunk=True)

    def text(events: list[Any]) -> str:
        return "".join(
            c["choices"][0]["delta"].get("content") or ""
            for _, c in events
            if isinstance(c, dict) and c.get("choices")
        )

    assert text(again) == text(first) == "one two three four five"
    deltas = [c for _, c in again if isinstance(c, dict) and c.get("choices")]
    assert len(deltas) >= 5  # chunk by chunk, not one blob
    assert _upstream_calls(fake) == 1
    usage = [c["usage"] for _, c in again if isinstance(c, dict) and c.get("usage")]
    assert usage and usage[-1]["cost"] == 0
    # A non-streamed request is a different entry: it goes upstream once.
    body["stream"] = False
    del body["stream_options"]
    assert http_raw("POST", url, body, CACHE)[1]["x-tokenport-cache"] == "MISS"


def test_every_door_uses_the_cache(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="cached across doors", chunks=3))
    gw = gateway_factory({"fakeoa": fake})
    ant = anthropic.Anthropic(base_url=gw.base_url, api_key="sk-test", max_retries=0)
    oa = gw.client()
    calls: dict[str, tuple[Any, Any]] = {
        "messages": (
            lambda: ant.messages.with_raw_response.create(
                model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers=CACHE
            ),
            lambda r: r.parse().content[0].text,
        ),
        "responses": (
            lambda: oa.responses.with_raw_response.create(
                model=MODEL, input="what is two plus two", store=False, extra_headers=CACHE
            ),
            lambda r: r.parse().output_text,
        ),
        "completions": (
            lambda: oa.completions.with_raw_response.create(
                model=MODEL, prompt="two plus two is", max_tokens=8, extra_headers=CACHE
            ),
            lambda r: r.parse().choices[0].text,
        ),
    }
    for door, (call, text) in calls.items():
        before = _upstream_calls(fake)
        r1, r2 = call(), call()
        assert r1.headers["x-tokenport-cache"] == "MISS", door
        assert r2.headers["x-tokenport-cache"] == "HIT", door
        assert _upstream_calls(fake) == before + 1, door
        assert text(r2) == text(r1) == "cached across doors", door
    # Streams through the Anthropic and Responses doors replay in their own event grammar.
    for path, body, check in (
        ("/v1/messages", {"max_tokens": 64, "messages": MESSAGES}, check_anthropic),
        ("/v1/responses", {"input": "stream it", "store": False}, check_responses),
    ):
        payload = {"model": MODEL, "stream": True, **body}
        before = _upstream_calls(fake)
        a = http_raw("POST", gw.base_url + path, payload, CACHE)
        b = http_raw("POST", gw.base_url + path, payload, CACHE)
        assert b[1]["x-tokenport-cache"] == "HIT", path
        check(parse_sse(b[2]))
        assert _upstream_calls(fake) == before + 1, path
        assert a[0] == b[0] == 200


def test_errors_and_sampled_answers_are_not_stored(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake})
    fake.push(*[Script(status=500)] * 5)  # the first attempt and its 4 retries
    with pytest.raises(openai.APIStatusError):
        _chat(gw, CACHE)
    assert _chat(gw, CACHE).headers["x-tokenport-cache"] == "MISS"  # the error was not kept
    assert _chat(gw, CACHE).headers["x-tokenport-cache"] == "HIT"
    for _ in range(2):
        r = _chat(gw, CACHE, temperature=0.7)
        assert r.headers["x-tokenport-cache"] == "MISS"
    sampled = {**CACHE, "X-Tokenport-Cache-Sampled": "true"}
    assert _chat(gw, sampled, temperature=0.9).headers["x-tokenport-cache"] == "MISS"
    assert _chat(gw, sampled, temperature=0.9).headers["x-tokenport-cache"] == "HIT"
    status, _, body = http_raw(
        "POST",
        gw.base_url + "/v1/chat/completions",
        {"model": MODEL, "messages": MESSAGES},
        {"X-Tokenport-Cache": "maybe"},
    )
    assert status == 400 and b"X-Tokenport-Cache must be true or false" in body


def test_entries_are_per_key_and_hits_are_free_unless_charged(
    fake: FakeUpstream, gateway_factory: Any, tmp_path: Path
) -> None:
    gw = gateway_factory({"fakeoa": fake}, env={"TOKENPORT_ADMIN_KEY": ADMIN})

    def key(limit: float) -> str:
        status, out = http_json(
            "POST", gw.base_url + "/api/v1/keys", {"name": "k", "limit": limit}, ADMIN
        )
        assert status == 201, out
        return str(out["key"])

    def used(secret: str) -> float:
        status, out = http_json("GET", f"{gw.base_url}/api/v1/key", token=secret)
        assert status == 200, out
        return float(out["data"]["usage"])

    a, b = key(1.0), key(1.0)
    assert _chat(gw, CACHE, a, max_tokens=20).headers["x-tokenport-cache"] == "MISS"
    spent = used(a)
    assert spent > 0
    assert _chat(gw, CACHE, a, max_tokens=20).headers["x-tokenport-cache"] == "HIT"
    assert used(a) == pytest.approx(spent)  # a hit is free
    assert _chat(gw, CACHE, b, max_tokens=20).headers["x-tokenport-cache"] == "MISS"  # B's own
    # An operator may charge hits, and share entries between keys.
    charged = gateway_factory(
        {"fakeoa": fake},
        env={"TOKENPORT_ADMIN_KEY": ADMIN},
        cache={"charge_hits": True, "shared": True},
        data_dir=str(tmp_path / "charged"),
        database_url=f"sqlite:///{tmp_path / 'charged.db'}",
    )
    gw = charged
    c, d = key(1.0), key(1.0)
    assert _chat(gw, CACHE, c, max_tokens=20).headers["x-tokenport-cache"] == "MISS"
    assert _chat(gw, CACHE, d, max_tokens=20).headers["x-tokenport-cache"] == "HIT"  # shared
    assert used(d) == pytest.approx(used(c))  # charged what the answer cost


@pytest.mark.redis
def test_redis_shares_entries_between_gateways(
    fake: FakeUpstream, gateway_factory: Any, redis_url: str, tmp_path: Path
) -> None:
    one = gateway_factory({"fakeoa": fake}, redis_url=redis_url, data_dir=str(tmp_path / "1"))
    two = gateway_factory({"fakeoa": fake}, redis_url=redis_url, data_dir=str(tmp_path / "2"))
    assert _chat(one, CACHE).headers["x-tokenport-cache"] == "MISS"
    assert _chat(two, CACHE).headers["x-tokenport-cache"] == "HIT"
    assert _upstream_calls(fake) == 1
    ttl = {**CACHE, "X-Tokenport-Cache-TTL": "1"}
    assert _chat(one, ttl, max_tokens=9).headers["x-tokenport-cache"] == "MISS"
    import time

    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis_url)
    keys = client.keys("tokenport:cache:v1:*")
    assert len(keys) == 2
    assert min(client.pttl(k) for k in keys) <= 1000
    time.sleep(1.2)
    assert _chat(two, ttl, max_tokens=9).headers["x-tokenport-cache"] == "MISS"  # expired
