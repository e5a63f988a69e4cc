"""Stream resume with the real local model (llama.cpp serving the bundled SmolLM2): a proxy
in front of it cuts the model's own stream mid-answer, and the gateway continues the answer
by raw completion of the prompt the model's chat template makes, plus the partial answer.
Greedy decoding, so the resumed answer can be compared with the uncut one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from _grammar import check_chat, parse_sse
from _helpers import http_json, http_raw
from tokenport.config import LocalModelConfig
from tokenport.providers.local import LocalModelSupervisor

pytestmark = [pytest.mark.local_model, pytest.mark.slow]


class Cutter:
    """A loopback proxy to the model that drops the connection after `cut_after` SSE
    events of the next chat stream (once), and records the paths it forwarded."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.cut_after: int | None = None
        self.paths: list[str] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.paths.append(request.path)
        cut, self.cut_after = self.cut_after, None
        headers = {"Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.target + request.path, data=body, headers=headers) as up,
        ):
            resp = web.StreamResponse(status=up.status, headers={"Content-Type": up.content_type})
            await resp.prepare(request)
            events = 0
            async for line in up.content:
                await resp.write(line)
                events += line.startswith(b"data:")
                if cut is not None and events >= cut and request.transport is not None:
                    request.transport.close()  # the stream is cut mid-answer
                    return resp
            await resp.write_eof()
            return resp

    def start(self) -> Cutter:
        ready = threading.Event()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"

        def run() -> None:
            self._loop.run_until_complete(serve())
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("local") / "local.log"
    sup = LocalModelSupervisor(LocalModelConfig(), log)
    sup.start()
    try:
        yield sup.base_url
    finally:
        sup.stop()


def test_the_local_model_continues_its_own_cut_stream(model: str, gateway_factory: Any) -> None:
    cutter = Cutter(model).start()
    try:
        gw = gateway_factory(
            {"cut": cutter},
            cut_extra={"continuation": {"mode": "completion"}},
            attempt_timeout_s=60.0,  # a real model on a busy machine
            stream_idle_timeout_s=60.0,
        )
        body = {
            "model": "cut/fake-model",
            "messages": [{"role": "user", "content": "Name three colours of the rainbow."}],
            "stream": True,
            "max_tokens": 32,
            "temperature": 0,
        }
        url = gw.base_url + "/v1/chat/completions"
        status, _, raw = http_raw("POST", url, body, timeout=120)  # a real model, a busy CPU
        assert status == 200
        whole = check_chat(parse_sse(raw), usage_chunk=False)["text"]
        assert len(whole.split()) > 6, whole
        cutter.cut_after = 6  # the role chunk and five pieces of text, then the cut
        status, _, raw = http_raw("POST", url, body, timeout=120)
        assert status == 200
        events = parse_sse(raw)
        resumed = check_chat(events, usage_chunk=False)["text"]
        assert cutter.paths[-2:] == ["/v1/chat/completions", "/v1/completions"]
        assert resumed == whole  # greedy: the same answer, nothing repeated or missing
        gen_id = next(d for _, d in events if isinstance(d, dict))["id"]
        got, record = http_json("GET", f"{gw.base_url}/api/v1/generation?id={gen_id}")
        assert got == 200 and record["data"]["resumed"] is True
    finally:
        cutter.stop()
