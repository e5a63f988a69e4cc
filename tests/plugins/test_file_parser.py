"""file-parser: PDF parts become text with their page count; other parts stay; bad input
is a clear 400; URLs only from the hosts the operator lists."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from _pdf import make_pdf, pdf_data_url
from tokenport.config import PluginsConfig
from tokenport.errors import BadRequest
from tokenport.plugins.file_parser import FileParser
from tokenport.values import ChatRequest, Message


def file_part(data: str, name: str = "invoice.pdf") -> dict[str, Any]:
    return {"type": "file", "file": {"filename": name, "file_data": data}}


def request(*parts: Any) -> ChatRequest:
    return ChatRequest("m", [Message("user", [{"type": "text", "text": "sum it"}, *parts])])


async def test_pdf_parts_become_text_and_pages_are_counted() -> None:
    req = request(file_part(pdf_data_url(["Invoice 4417", "Total due: 99 EUR"])))
    use = await FileParser(PluginsConfig(file_parser_usd_per_1000_pages=3.0)).apply(req)
    assert use.id == "file-parser" and use.pages == 2 and use.cost == pytest.approx(0.006)
    content = req.messages[0].content
    assert isinstance(content, list) and content[0] == {"type": "text", "text": "sum it"}
    assert content[1]["type"] == "text"
    assert "Invoice 4417" in content[1]["text"] and "Total due: 99 EUR" in content[1]["text"]
    assert "invoice.pdf" in content[1]["text"]


async def test_other_parts_and_string_content_are_untouched() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    text_file = file_part("data:text/plain;base64," + base64.b64encode(b"x").decode(), "a.txt")
    req = ChatRequest("m", [Message("system", "be brief"), Message("user", [image, text_file])])
    use = await FileParser(PluginsConfig()).apply(req)
    assert use.pages == 0 and use.cost == 0.0
    assert req.messages[0].content == "be brief"
    assert req.messages[1].content == [image, text_file]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("data:application/pdf;base64,@@not-base64@@", "not valid base64"),
        ("data:application/pdf;base64," + base64.b64encode(b"no pdf here").decode(), "as a PDF"),
    ],
)
async def test_unreadable_pdf_is_a_400(data: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        await FileParser(PluginsConfig()).apply(request(file_part(data)))


async def test_page_limit_is_a_400() -> None:
    req = request(file_part(pdf_data_url(["a", "b", "c"])))
    with pytest.raises(BadRequest, match="3 pages; the limit is 2"):
        await FileParser(PluginsConfig(file_parser_max_pages=2)).apply(req)


async def test_urls_are_refused_unless_their_host_is_listed() -> None:
    req = request(file_part("http://169.254.169.254/latest/meta-data.pdf", "meta.pdf"))
    with pytest.raises(BadRequest, match=r"does not fetch from '169\.254\.169\.254'"):
        await FileParser(PluginsConfig()).apply(req)


async def test_a_listed_host_is_fetched(unused_tcp_port: int) -> None:
    from aiohttp import web

    body = make_pdf(["fetched over http"])

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/pdf")

    app = web.Application()
    app.router.add_get("/doc.pdf", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        req = request(file_part(f"http://127.0.0.1:{unused_tcp_port}/doc.pdf", "doc.pdf"))
        use = await FileParser(PluginsConfig(file_parser_url_hosts=["127.0.0.1"])).apply(req)
    finally:
        await runner.cleanup()
    assert use.pages == 1
    content = req.messages[0].content
    assert isinstance(content, list) and "fetched over http" in content[1]["text"]
