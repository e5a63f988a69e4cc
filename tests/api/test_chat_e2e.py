"""End to end: the official openai SDK -> a real gateway -> fake upstreams on loopback."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import anthropic
import openai
import pytest

from _helpers import http_json
from tokenport.lab.fake import FakeUpstream, Script

MESSAGES: list[Any] = [{"role": "user", "content": "say hello to the world"}]


def _generation(gw: Any, gen_id: str) -> dict[str, Any]:
    status, body = _get(f"{gw.base_url}/api/v1/generation?id={gen_id}")
    assert status == 200, body
    return dict(body["data"])


def test_non_stream_usage_and_cost(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="Hello there friend", cache_read_tokens=2))
    gw = gateway_factory({"fakeoa": fake})
    resp = gw.client().chat.completions.create(model="fakeoa/fake-model", messages=MESSAGES)
    assert resp.choices[0].message.content == "Hello there friend"
    assert resp.model == "fakeoa/fake-model"
    u = resp.usage
    assert u is not None and u.completion_tokens == 3
    assert u.prompt_tokens_details is not None and u.prompt_tokens_details.cached_tokens == 2
    # 1.0 $/M for fresh input, 0.1 $/M for cached input, 2.0 $/M for output
    fresh = u.prompt_tokens - 2
    expected = (fresh * 1.0 + 2 * 0.1 + 3 * 2.0) / 1e6
    assert (u.model_extra or {})["cost"] == pytest.approx(expected)
    gen = _generation(gw, resp.id)
    assert gen["total_cost"] == pytest.approx(expected)
    assert gen["provider_name"] == "fakeoa" and gen["status"] == "ok"
    assert gen["tokens_completion"] == 3 and gen["usage_estimated"] is False
    assert gen["latency"] > 0 and gen["time_to_first_token"] > 0


def test_stream_ends_with_priced_usage_chunk(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="one two three four", chunks=4))
    gw = gateway_factory({"fakeoa": fake})
    stream = gw.client().chat.completions.create(
        model="fakeoa/fake-model",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 4
    assert (last.usage.model_extra or {})["cost"] > 0
    # the gateway always asks upstream for usage in streams
    assert fake.last_request.body["stream_options"] == {"include_usage": True}
    gen = _generation(gw, chunks[0].id)
    assert gen["streamed"] is True and gen["tokens_completion"] == 4
    assert gen["time_to_first_token"] <= gen["latency"]


def test_no_usage_chunk_unless_asked(fake: FakeUpstream, gateway_factory: Any) -> None:
    """OpenAI's own docs loop over `chunk.choices[0]`: an unasked usage-only chunk breaks it."""
    fake.set_script(Script(text="one two three", chunks=3))
    gw = gateway_factory({"fakeoa": fake})
    chunks = list(
        gw.client().chat.completions.create(
            model="fakeoa/fake-model", messages=MESSAGES, stream=True
        )
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "one two three"
    assert all(chunk.usage is None for chunk in chunks)
    # the gateway still asks upstream for usage, and the ledger has it exactly
    assert fake.last_request.body["stream_options"] == {"include_usage": True}
    gen = _generation(gw, chunks[0].id)
    assert gen["tokens_completion"] == 3 and gen["usage_estimated"] is False


def test_missing_stream_usage_is_estimated(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="alpha beta gamma delta", usage=False))
    gw = gateway_factory({"fakeoa": fake})
    chunks = list(
        gw.client().chat.completions.create(
            model="fakeoa/fake-model",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    assert (usage.model_extra or {})["estimated"] is True
    assert _generation(gw, chunks[0].id)["usage_estimated"] is True


def test_parameters_and_unknown_fields_pass_through(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory({"fakeoa": fake})
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    resp = gw.client().chat.completions.create(
        model="fakeoa/fake-model",
        messages=MESSAGES,
        tools=tools,
        tool_choice="auto",
        response_format={"type": "json_object"},
        stop=["END"],
        max_completion_tokens=50,
        temperature=0.3,
        top_p=0.9,
        seed=7,
        extra_body={"top_k": 40, "repetition_penalty": 1.1, "api_base": "http://evil.example"},
    )
    sent = fake.last_request.body
    assert sent["model"] == "fake-model"
    assert sent["tools"] == tools and sent["tool_choice"] == "auto"
    assert sent["response_format"] == {"type": "json_object"} and sent["stop"] == ["END"]
    assert sent["max_completion_tokens"] == 50 and sent["seed"] == 7
    assert sent["top_k"] == 40 and sent["repetition_penalty"] == 1.1
    assert "api_base" not in sent  # SSRF guard: client-supplied upstream URLs are dropped
    call = resp.choices[0].message.tool_calls
    assert call is not None and call[0].function.name == "weather"
    assert resp.choices[0].finish_reason == "tool_calls"


def test_falls_back_on_5xx_429_and_timeout(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    fake2.set_script(Script(text="from backup"))
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake2},
        fakeob_extra={
            "models": [
                {"id": "fake-model", "slug": "fake-model", "input_price": 5.0, "output_price": 5.0}
            ]
        },
    )
    client = gw.client()
    for script in (Script(status=500), Script(status=429, retry_after=0), Script(hang=True)):
        fake.push(script)
        resp = client.chat.completions.create(model="fake-model", messages=MESSAGES)
        assert resp.choices[0].message.content == "from backup"
        gen = _generation(gw, resp.id)
        assert [a["provider"] for a in gen["attempts"]] == ["fakeoa", "fakeob"]
        assert gen["attempts"][0]["status"] == "error"
        assert gen["provider_name"] == "fakeob"
        # priced at the provider that actually served
        assert gen["total_cost"] == pytest.approx(
            (gen["tokens_prompt"] * 5.0 + gen["tokens_completion"] * 5.0) / 1e6
        )
        time.sleep(0.05)


def test_client_4xx_is_not_retried(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake2},
        fakeob_extra={
            "models": [
                {"id": "fake-model", "slug": "fake-model", "input_price": 5.0, "output_price": 5.0}
            ]
        },
    )
    fake.push(Script(status=400, error_message="bad schema"))
    with pytest.raises(openai.BadRequestError) as err:
        gw.client().chat.completions.create(model="fake-model", messages=MESSAGES)
    assert "bad schema" in str(err.value)
    assert fake2.requests == []


def test_stream_falls_back_before_first_byte(
    fake: FakeUpstream, fake2: FakeUpstream, gateway_factory: Any
) -> None:
    fake2.set_script(Script(text="backup stream", chunks=2))
    gw = gateway_factory(
        {"fakeoa": fake, "fakeob": fake2},
        fakeob_extra={
            "models": [
                {"id": "fake-model", "slug": "fake-model", "input_price": 5.0, "output_price": 5.0}
            ]
        },
    )
    fake.push(Script(status=503))
    chunks = list(
        gw.client().chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "backup stream"


def test_stream_cut_after_first_byte_ends_with_error(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    fake.set_script(Script(text="a b c d e f", chunks=6, cut_after=2))
    gw = gateway_factory({"fakeoa": fake})
    raw = urllib.request.Request(
        gw.base_url + "/v1/chat/completions",
        method="POST",
        data=json.dumps(
            {"model": "fakeoa/fake-model", "messages": MESSAGES, "stream": True}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(raw, timeout=10) as r:
        assert r.status == 200
        events = [ln[6:] for ln in r.read().decode().splitlines() if ln.startswith("data: ")]
    assert events[-1] == "[DONE]"
    err = json.loads(events[-2])
    assert "error" in err and err["error"]["provider"] == "fakeoa"
    gen_id = json.loads(events[0])["id"]
    gen = _generation(gw, gen_id)
    assert gen["status"] == "error" and gen["streamed"] is True


def test_all_fail_gives_502_with_attempts(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(status=500))
    gw = gateway_factory({"fakeoa": fake})
    status, body = _post(
        gw.base_url + "/v1/chat/completions",
        json.dumps({"model": "fakeoa/fake-model", "messages": MESSAGES}).encode(),
    )
    assert status == 502
    assert body["error"]["code"] == "all_providers_failed"
    assert body["error"]["attempts"][0]["provider"] == "fakeoa"


def test_upstream_auth_failure_is_502_naming_provider_without_key(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    secret = "sk-live-abcdefghijklmnopqrstuvwxyz123456"
    fake.set_script(Script(status=401))  # the fake echoes the presented key in its error
    gw = gateway_factory(
        {"fakeoa": fake}, env={"FAKE_KEY": secret}, fakeoa_extra={"key_env": "FAKE_KEY"}
    )
    status, body = _post(
        gw.base_url + "/v1/chat/completions",
        json.dumps({"model": "fakeoa/fake-model", "messages": MESSAGES}).encode(),
    )
    assert status == 502
    assert "fakeoa" in body["error"]["message"]
    assert secret not in json.dumps(body)
    assert fake.last_request.headers["authorization"] == f"Bearer {secret}"


def test_anthropic_upstream_through_gateway(fake: FakeUpstream, gateway_factory: Any) -> None:
    fake.set_script(Script(text="claude says hi", cache_read_tokens=4, cache_write_tokens=2))
    gw = gateway_factory({"antx": fake})
    client = gw.client()
    resp = client.chat.completions.create(model="antx/fake-claude", messages=MESSAGES)
    assert resp.choices[0].message.content == "claude says hi"
    assert fake.last_request.path == "/v1/messages"
    u = resp.usage
    assert u is not None and u.prompt_tokens_details is not None
    assert u.prompt_tokens_details.cached_tokens == 4
    fresh = u.prompt_tokens - 6
    expected = (fresh * 3.0 + 4 * 0.3 + 2 * 3.75 + u.completion_tokens * 15.0) / 1e6
    assert (u.model_extra or {})["cost"] == pytest.approx(expected)
    chunks = list(
        client.chat.completions.create(
            model="antx/fake-claude",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "claude says hi"
    )
    assert chunks[-1].usage is not None


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1,2]", 400, "JSON object"),
        (json.dumps({"model": "fakeoa/fake-model", "messages": "hi"}).encode(), 400, "messages"),
        (
            json.dumps(
                {"model": "fakeoa/fake-model", "messages": MESSAGES, "max_tokens": "ten"}
            ).encode(),
            400,
            "max_tokens",
        ),
        (json.dumps({"model": "fakeoa/fake-model", "messages": []}).encode(), 400, "at least one"),
        (
            json.dumps({"model": "fakeoa/fake-modle", "messages": MESSAGES}).encode(),
            404,
            "fakeoa/fake-model",
        ),
    ],
)
def test_bad_input_is_openai_shaped(
    fake: FakeUpstream, gateway_factory: Any, body: bytes, status: int, needle: str
) -> None:
    gw = gateway_factory({"fakeoa": fake})
    got, payload = _post(gw.base_url + "/v1/chat/completions", body)
    assert got == status
    assert set(payload["error"]) >= {"message", "type", "code"}
    assert needle in payload["error"]["message"]


def test_oversize_body_is_413(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake}, max_body_bytes=1000)
    big = json.dumps(
        {"model": "fakeoa/fake-model", "messages": [{"role": "user", "content": "x" * 5000}]}
    ).encode()
    status, payload = _post(gw.base_url + "/v1/chat/completions", big)
    assert status == 413 and "limit" in payload["error"]["message"]


def test_models_healthz_and_unknown_generation(fake: FakeUpstream, gateway_factory: Any) -> None:
    gw = gateway_factory({"fakeoa": fake})
    status, models = _get(gw.base_url + "/v1/models")
    assert status == 200
    by_id = {m["id"]: m for m in models["data"]}
    ds = by_id["deepseek/deepseek-chat"]
    assert ds["pricing"]["prompt"] == "0.00000014" and ds["country"] == "CN"
    assert ds["available"] is False  # no DEEPSEEK_API_KEY in this gateway's environment
    assert by_id["fakeoa/fake-model"]["available"] is True
    listed = gw.client().models.list()
    assert any(m.id == "fakeoa/fake-model" for m in listed.data)
    status, health = _get(gw.base_url + "/healthz")
    assert status == 200 and health["providers"]["fakeoa"] is True
    assert health["providers"]["deepseek"] is False
    assert _get(gw.base_url + "/api/v1/generation?id=gen-nope")[0] == 404
    assert _get(gw.base_url + "/api/v1/generation")[0] == 400


def test_unconfigured_provider_is_a_404_the_sdks_do_not_retry(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    """No key for the only provider is a configuration problem: a 404 that names what to set,
    in each door's shape, raised by the SDKs at once (they retry 408/409/429/5xx)."""
    gw = gateway_factory({"fakeoa": fake})
    oa = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="unused")  # default retries
    with pytest.raises(openai.NotFoundError) as chat:
        oa.chat.completions.create(model="deepseek/deepseek-chat", messages=MESSAGES)
    assert chat.value.code == "provider_not_configured"
    assert "DEEPSEEK_API_KEY" in chat.value.message
    with pytest.raises(openai.NotFoundError):
        oa.responses.create(model="deepseek/deepseek-chat", input="hi")
    claude = anthropic.Anthropic(base_url=gw.base_url, api_key="unused")
    with pytest.raises(anthropic.NotFoundError) as msg:
        claude.messages.create(model="deepseek/deepseek-chat", max_tokens=8, messages=MESSAGES)
    assert msg.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "DEEPSEEK_API_KEY" in msg.value.message
    assert gw.state.refusals.stats().written == 3  # one request each reached it: no retries
    assert fake.requests == []


def _get(url: str) -> tuple[int, Any]:
    return http_json("GET", url)


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return http_json("POST", url, body, headers=headers)


def test_client_disconnect_mid_stream_is_recorded_and_stops_upstream(
    fake: FakeUpstream, gateway_factory: Any
) -> None:
    import http.client
    import socket

    fake.set_script(Script(text=" ".join(["w"] * 40), chunks=40, chunk_interval_ms=100))
    gw = gateway_factory({"fakeoa": fake})
    host, port = gw.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = json.dumps({"model": "fakeoa/fake-model", "messages": MESSAGES, "stream": True})
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first = resp.readline().decode()  # the first event: the stream is flowing
    gen_id = json.loads(first.removeprefix("data: "))["id"]
    conn.sock.shutdown(socket.SHUT_RDWR)  # the client walks away 4 s before upstream ends
    conn.close()
    started = time.monotonic()
    gen: dict[str, Any] = {}
    while time.monotonic() - started < 3:
        status, out = _get(f"{gw.base_url}/api/v1/generation?id={gen_id}")
        if status == 200:
            gen = out["data"]
            break
        time.sleep(0.1)
    assert gen, "the cut-short stream was never recorded"
    assert gen["status"] == "error" and gen["error_class"] == "ClientDisconnected"
    assert 0 < gen["tokens_completion"] < 40  # priced for what was generated before the cut


def test_a_trickled_body_is_cut_with_408(fake: FakeUpstream, gateway_factory: Any) -> None:
    import socket

    gw = gateway_factory({"fakeoa": fake}, body_timeout_s=0.5)
    body = json.dumps({"model": "fakeoa/fake-model", "messages": MESSAGES}).encode()
    port = int(gw.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        t0 = time.monotonic()
        for byte in body[:20]:  # one byte every 0.1 s: the body never completes in time
            s.sendall(bytes([byte]))
            time.sleep(0.1)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert time.monotonic() - t0 < 3
    assert b"request_timeout" in answer
