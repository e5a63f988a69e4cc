"""file-parser: PDF file parts become text (pypdf) before the model sees them.

A part is OpenAI's `{"type": "file", "file": {"filename", "file_data"}}`, with `file_data` a
base64 data URL or an http(s) URL. URLs are fetched only from the hosts the operator lists
(`plugins.file_parser_url_hosts`): a client must not make the gateway fetch an internal
address. Parsing runs in a worker thread, off the event loop. Each request's pages and
their cost (`file_parser_usd_per_1000_pages`, 0 by default: the parse is local) are counted
in its `PluginUse`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from tokenport.config import PluginsConfig
from tokenport.errors import BadRequest
from tokenport.values import ChatRequest, PluginUse

NAME = "file-parser"
_PDF = "application/pdf"


class FileParser:
    def __init__(self, config: PluginsConfig) -> None:
        self.config = config

    async def apply(self, request: ChatRequest) -> PluginUse:
        """Replace every PDF file part of the request with its text, in place."""
        pages = 0
        for message in request.messages:
            if not isinstance(message.content, list):
                continue
            parts: list[Any] = []
            for part in message.content:
                pdf = await self._pdf_bytes(part)
                if pdf is None:
                    parts.append(part)
                    continue
                name = _filename(part)
                text, n = await asyncio.to_thread(self._extract, name, pdf)
                pages += n
                parts.append({"type": "text", "text": f"<file name={name!r}>\n{text}\n</file>"})
            message.content = parts
        cost = pages * self.config.file_parser_usd_per_1000_pages / 1000
        return PluginUse(NAME, pages=pages, cost=cost)

    async def _pdf_bytes(self, part: Any) -> bytes | None:
        """The PDF a part carries, or None when the part is not a PDF file."""
        file = part.get("file") if isinstance(part, dict) and part.get("type") == "file" else None
        data = file.get("file_data") if isinstance(file, dict) else None
        if not isinstance(data, str):
            return None
        if data.startswith("data:"):
            head, _, payload = data.partition(",")
            if not head.startswith(f"data:{_PDF}"):
                return None
            return self._decode(_filename(part), payload)
        if data.startswith(("http://", "https://")) and _filename(part).lower().endswith(".pdf"):
            return await self._fetch(data)
        return None

    def _decode(self, name: str, payload: str) -> bytes:
        if len(payload) * 3 // 4 > self.config.file_parser_max_bytes:
            raise BadRequest(f"file-parser: {name!r} is over the size limit.", param="messages")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(
                f"file-parser: {name!r} is not valid base64 ({exc}).", param="messages"
            ) from exc

    async def _fetch(self, url: str) -> bytes:
        host = urlsplit(url).hostname or ""
        if host not in self.config.file_parser_url_hosts:
            raise BadRequest(
                f"file-parser does not fetch from {host!r}: send the PDF as a base64 data URL "
                "(data:application/pdf;base64,...), or the operator lists the host in "
                "plugins.file_parser_url_hosts.",
                param="messages",
            )
        limit = self.config.file_parser_max_bytes
        try:
            timeout = aiohttp.ClientTimeout(total=30)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, allow_redirects=False) as resp,
            ):
                resp.raise_for_status()
                body = await resp.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BadRequest(f"file-parser could not fetch {url}: {exc}", param="messages") from exc
        if len(body) > limit:
            raise BadRequest(f"file-parser: {url} is over the size limit.", param="messages")
        return body

    def _extract(self, name: str, pdf: bytes) -> tuple[str, int]:
        """The PDF's text, page by page, and how many pages were read."""
        try:
            reader = PdfReader(io.BytesIO(pdf))
            pages = reader.pages
            if len(pages) > self.config.file_parser_max_pages:
                raise BadRequest(
                    f"file-parser: {name!r} has {len(pages)} pages; the limit is "
                    f"{self.config.file_parser_max_pages}.",
                    param="messages",
                )
            texts = [page.extract_text() or "" for page in pages]
        except (PdfReadError, ValueError, KeyError) as exc:
            raise BadRequest(f"file-parser could not read {name!r} as a PDF: {exc}") from exc
        return "\n\n".join(texts), len(texts)


def _filename(part: dict[str, Any]) -> str:
    name = part["file"].get("filename")
    return name if isinstance(name, str) and name else "file.pdf"
