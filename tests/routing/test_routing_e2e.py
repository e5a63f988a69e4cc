"""Provider routing through a running gateway, with the official `openai` SDK as client:
the data filters' 404, sticky routing on upstreams that cache prefixes honestly (on, off,
TTL expiry, `provider.order`), and the measured speeds on the API and the dashboard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from _helpers import http_json, missing, require_module, wait_for_dashboard
from tokenport.lab.prefix_fake import PrefixCacheUpstream

pytestmark = pytest.mark.timeout(120)
SYSTEM = "You are a coding agent. " + "Follow the repository rules. " * 60


@pytest.fixture
def ups() -> Iterator[dict[str, PrefixCacheUpstream]]:
    fakes = {name: PrefixCacheUpstream.start_in_thread() for name in ("pa", "pb")}
    yield fakes
    for f in fakes.values():
        f.stop()


def _ask(client: openai.OpenAI, turns: list[dict[str, Any]], **provider: Any) -> Any:
    extra = {"provider": provider} if provider else None
    return client.chat.completions.create(
        model="fake-model",
        messages=turns,
        extra_body=extra,  # type: ignore[arg-type]
    )


def _conversation() -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "fix the bug"}]


def _next_turn(turns: list[dict[str, Any]], resp: Any, text: str) -> None:
    turns += [{"role": "assistant", "content": resp.choices[0].message.content}]
    turns += [{"role": "user", "content": text}]


def _make_faster(gw: Any, provider: str, other: str) -> None:
    """Measured figures that put `provider` first under sort=latency."""
    speed = gw.state.router.health.speed
    for _ in range(20):
        speed.record(f"{provider}/fake-model", 5.0, 500.0)
        speed.record(f"{other}/fake-model", 900.0, 20.0)


def _cached(resp: Any) -> int:
    return int(resp.usage.prompt_tokens_details.cached_tokens)


def test_sticky_routing_keeps_the_cache_and_expires(
    ups: dict[str, PrefixCacheUpstream], gateway_factory: Any
) -> None:
    gw = gateway_factory(ups, routing={"sticky_ttl_s": 1.0})
    client = gw.client()
    turns = _conversation()
    first = _ask(client, turns, sort="latency")
    home = first.provider  # type: ignore[attr-defined]
    away = "pb" if home == "pa" else "pa"
    assert _cached(first) == 0
    _make_faster(gw, away, home)  # the order flips: latency now says `away`
    _next_turn(turns, first, "now run the tests")
    second = _ask(client, turns, sort="latency")
    assert second.provider == home  # type: ignore[attr-defined]
    assert _cached(second) >= first.usage.prompt_tokens  # the whole first prompt was cached
    # billed at the cache-read price ($0.10/M), not the prompt price ($1/M)
    full = (second.usage.prompt_tokens * 1.0 + second.usage.completion_tokens * 2.0) / 1e6
    assert second.usage.cost < 0.5 * full
    # The client's own order turns it off.
    _next_turn(turns, second, "and commit")
    ordered = _ask(client, turns, order=[away])
    assert ordered.provider == away and _cached(ordered) == 0  # type: ignore[attr-defined]
    # After the TTL (renewed by the last sticky use) the pin is gone: latency decides again.
    time.sleep(1.2)
    _next_turn(turns, ordered, "and push")
    after = _ask(client, turns, sort="latency")
    assert after.provider == away  # type: ignore[attr-defined]


def test_without_sticky_routing_the_conversation_follows_the_sort(
    ups: dict[str, PrefixCacheUpstream], gateway_factory: Any
) -> None:
    gw = gateway_factory(ups, routing={"sticky": False})
    client = gw.client()
    turns = _conversation()
    first = _ask(client, turns, sort="latency")
    home = first.provider  # type: ignore[attr-defined]
    away = "pb" if home == "pa" else "pa"
    _make_faster(gw, away, home)
    _next_turn(turns, first, "now run the tests")
    second = _ask(client, turns, sort="latency")
    assert second.provider == away and _cached(second) == 0  # type: ignore[attr-defined]


def test_sticky_pins_are_shared_across_replicas_through_redis(
    ups: dict[str, PrefixCacheUpstream], gateway_factory: Any, redis_url: str, tmp_path: Path
) -> None:
    one = gateway_factory(ups, redis_url=redis_url, data_dir=str(tmp_path / "one"))
    two = gateway_factory(ups, redis_url=redis_url, data_dir=str(tmp_path / "two"))
    turns = _conversation()
    first = _ask(one.client(), turns, sort="latency")
    home = first.provider  # type: ignore[attr-defined]
    away = "pb" if home == "pa" else "pa"
    _make_faster(two, away, home)
    _next_turn(turns, first, "now run the tests")
    second = _ask(two.client(), turns, sort="latency")  # another replica, same pin
    assert second.provider == home and _cached(second) > 0  # type: ignore[attr-defined]


def test_data_filters_answer_openrouters_404(
    ups: dict[str, PrefixCacheUpstream], gateway_factory: Any
) -> None:
    gw = gateway_factory(ups, pb_extra={"data_collection": "deny", "quantization": "bf16"})
    client = gw.client()
    assert _ask(client, _conversation(), data_collection="deny").provider == "pb"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as err:
        _ask(client, _conversation(), data_collection="deny", zdr=True)
    text = str(err.value)
    assert "No endpoints found matching your data policy" in text
    assert "pa/fake-model (data_collection: undeclared)" in text and "pb/fake-model (zdr" in text
    with pytest.raises(openai.NotFoundError, match="quantization"):
        _ask(client, _conversation(), quantizations=["int4"])
    with pytest.raises(openai.BadRequestError, match="quantizations"):
        _ask(client, _conversation(), quantizations=["q3"])  # not a quantization name


def test_speeds_are_served_and_shown_on_the_dashboard(
    ups: dict[str, PrefixCacheUpstream], gateway_factory: Any
) -> None:
    gw = gateway_factory(ups)
    for _ in range(3):
        _ask(gw.client(), _conversation(), order=["pa"])
    status, body = http_json("GET", gw.base_url + "/api/v1/route-speeds", None, None)
    assert status == 200
    row = {r["route"]: r for r in body["data"]}["pa/fake-model"]
    assert row["samples"] == 3 and row["ttft_ms"]["p50"] > 0 and row["throughput"]["p90"] > 0
    assert "pb/fake-model" not in {r["route"] for r in body["data"]}  # unmeasured: absent
    sync_api = require_module("playwright.sync_api", "pip install playwright")
    if not Path("/usr/bin/chromium").exists():
        missing("apt-get install chromium (Debian's /usr/bin/chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.goto(gw.base_url + "/dashboard")
            wait_for_dashboard(page)
            deadline = time.monotonic() + 10
            while page.evaluate("window.__tokenport.speeds") is None:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            table = page.inner_text("#table-speeds")
        finally:
            browser.close()
    assert "pa/fake-model" in table and "pb/fake-model" not in table
