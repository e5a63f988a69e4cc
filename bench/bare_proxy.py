"""The floor a Python gateway is measured against: a bare aiohttp pass-through proxy.

    python bench/bare_proxy.py --port 9200 --upstream http://127.0.0.1:9101

Every POST is forwarded as it came (path and body) to `--upstream` on one pooled aiohttp
client, and the answer is relayed back: JSON whole, SSE chunk by chunk. No parsing, no
keys, no routing, no ledger: what is left is the HTTP server, the HTTP client and the event
loop (uvloop, as tokenport runs), so "tokenport's CPU per request / this one's" is the price
of everything tokenport does on top of moving bytes.
"""

from __future__ import annotations

import argparse

import aiohttp
import uvloop
from aiohttp import web

_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "host"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()
    state: dict[str, aiohttp.ClientSession] = {}

    async def startup(_: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
        state["client"] = aiohttp.ClientSession(upstream, connector=connector)

    async def cleanup(_: web.Application) -> None:
        await state["client"].close()

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"content-type": "application/json"}
        auth = request.headers.get("authorization")
        if auth:
            headers["authorization"] = auth
        async with state["client"].post(request.path, data=body, headers=headers) as up:
            ctype = up.headers.get("content-type", "application/json")
            if not ctype.startswith("text/event-stream"):
                return web.Response(
                    body=await up.read(),
                    status=up.status,
                    content_type=None,
                    headers={"content-type": ctype},
                )
            out = web.StreamResponse(status=up.status, headers={"content-type": ctype})
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_get("/healthz", health)
    app.router.add_post("/{tail:.*}", relay)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9101")
    args = p.parse_args(argv)
    uvloop.install()
    web.run_app(
        make_app(args.upstream), host="127.0.0.1", port=args.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
