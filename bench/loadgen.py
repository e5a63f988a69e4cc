"""A purpose-built HTTP/1.1 load generator: uvloop, httptools, keep-alive, requests prebuilt.

    python bench/loadgen.py rate   --url URL --model M --rate 500 --duration 5 [--stream]
    python bench/loadgen.py closed --url URL --model M --connections 50 --duration 5

`rate` is open-loop: request i is due at start + i/rate whatever happened to earlier ones,
and its latency is measured from when it was due, so a stalled server cannot hide its stall
by slowing the sender down (no coordinated omission). A request with no idle connection
opens a new one (up to --max-connections, then it waits its turn, and the wait counts).
With --stream it also records time to first token: the first body bytes holding `data:`.
With --frames N it also checks every stream: N content frames arrived (occurrences of
--frame-marker in the body) and no gap between arrivals exceeded --max-gap-ms.
`closed` keeps --connections requests in flight for --duration (or --requests in total).

Each run prints one JSON object on stdout. Every run is bounded: it stops sending at
--duration and gives outstanding requests --grace seconds before counting them as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import msgspec
import uvloop

_now = time.perf_counter


def build_request(
    url: str,
    model: str,
    stream: bool,
    api_key: str,
    body: dict[str, Any] | None = None,
    headers: list[str] | None = None,
) -> bytes:
    """The one request every connection sends; `body` (another door's shape) replaces the
    default Chat Completions body, with `model` and `stream` set the same way; `headers`
    ("Name: value") are added (Portkey routes by its own headers)."""
    parts = urlsplit(url)
    if body is None:
        body = {
            "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
            "max_tokens": 16,
        }
    body = {"model": model, **body}
    if stream:
        body["stream"] = True
    raw = msgspec.json.encode(body)
    extra = "".join(f"{h}\r\n" for h in headers or ())
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {api_key}\r\n{extra}"
        f"Content-Length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


def percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    i = min(len(sorted_ms) - 1, max(0, round(q / 100.0 * (len(sorted_ms) - 1))))
    return round(sorted_ms[i], 3)


def summarize(values: list[float]) -> dict[str, float | None]:
    v = sorted(values)
    mean = round(sum(v) / len(v), 3) if v else None
    return {
        "p50": percentile(v, 50),
        "p90": percentile(v, 90),
        "p99": percentile(v, 99),
        "max": round(v[-1], 3) if v else None,
        "mean": mean,
    }


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def record(self, status: int, due: float, first: float | None, stream: bool) -> None:
        end = _now()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 200:
            self.errors += 1
            return
        self.ok += 1
        self.latencies_ms.append((end - due) * 1000.0)
        if stream and first is not None:
            self.ttft_ms.append((first - due) * 1000.0)


class Conn(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.due = 0.0
        self.first: float | None = None
        self.busy = False
        self.done_msg = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes, due: float) -> None:
        assert self.transport is not None
        self.due, self.first, self.busy, self.done_msg = due, None, True, False
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail()

    def on_body(self, body: bytes) -> None:
        if self.first is None and b"data:" in body:
            self.first = _now()

    def on_message_complete(self) -> None:
        self.busy = False
        self.pool.finished(self, self.parser.get_status_code(), self.due, self.first)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.lost(self, self.busy)

    def _fail(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class StreamChecks:
    """Per-stream verdicts for answered (HTTP 200) streams: frames counted, gaps timed."""

    expected: int
    marker: bytes
    max_gap_ms: float
    gaps_ms: list[float] = field(default_factory=list)  # the largest gap of each stream
    frames_min: int | None = None
    short: int = 0  # fewer content frames than expected
    stalled: int = 0  # a gap between arrivals above max_gap_ms

    def record(self, frames: int, gap_s: float) -> None:
        gap_ms = gap_s * 1000.0
        self.gaps_ms.append(gap_ms)
        self.frames_min = frames if self.frames_min is None else min(self.frames_min, frames)
        self.short += frames < self.expected
        self.stalled += gap_ms > self.max_gap_ms

    def summary(self) -> dict[str, Any]:
        return {
            "expected_frames": self.expected,
            "checked": len(self.gaps_ms),
            "frames_min": self.frames_min,
            "short": self.short,
            "stalled": self.stalled,
            "max_gap_limit_ms": self.max_gap_ms,
            "max_gap_ms": summarize(self.gaps_ms),
        }


class StreamConn(Conn):
    """A connection that also counts content frames and times the gaps between arrivals."""

    def __init__(self, pool: Pool, checks: StreamChecks) -> None:
        super().__init__(pool)
        self.checks = checks
        self.keep = len(checks.marker) - 1
        self.frames, self.tail, self.last, self.gap = 0, b"", 0.0, 0.0

    def send(self, data: bytes, due: float) -> None:
        self.frames, self.tail, self.last, self.gap = 0, b"", 0.0, 0.0
        super().send(data, due)

    def on_body(self, body: bytes) -> None:
        now = _now()
        if self.last:
            self.gap = max(self.gap, now - self.last)
        self.last = now
        # A marker split across two reads is counted once: the carried tail is shorter than it.
        self.frames += (self.tail + body).count(self.checks.marker)
        self.tail = body[-self.keep :] if self.keep else b""
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() == 200:
            self.checks.record(self.frames, self.gap)
        super().on_message_complete()


class Pool:
    """Connections, a queue of due requests, and the results."""

    def __init__(
        self,
        host: str,
        port: int,
        request: bytes,
        stream: bool,
        max_conns: int,
        checks: StreamChecks | None = None,
    ) -> None:
        self.host, self.port, self.request, self.stream = host, port, request, stream
        self.checks = checks
        self.max_conns = max_conns
        self.idle: list[Conn] = []
        self.conns: set[Conn] = set()
        self.opening = 0
        self.queue: deque[float] = deque()
        self.results = Results()
        self.in_flight = 0
        self.sending = True
        self.drained = asyncio.Event()
        self.on_finish: Callable[[Conn], None] | None = None
        self.loop = asyncio.get_event_loop()

    def submit(self, due: float) -> None:
        self.in_flight += 1
        if self.idle:
            self.idle.pop().send(self.request, due)
            return
        self.queue.append(due)
        if len(self.conns) + self.opening < self.max_conns:
            self.opening += 1
            self.loop.create_task(self._open())

    def _conn(self) -> Conn:
        return Conn(self) if self.checks is None else StreamConn(self, self.checks)

    async def _open(self) -> None:
        try:
            _, conn = await self.loop.create_connection(self._conn, self.host, self.port)
        except OSError:
            self.opening -= 1
            if self.queue:
                self.queue.popleft()
                self._done(0)
            return
        self.opening -= 1
        self.conns.add(conn)
        self._next(conn)

    def _next(self, conn: Conn) -> None:
        if self.queue:
            conn.send(self.request, self.queue.popleft())
        elif self.on_finish is not None:
            self.on_finish(conn)
        else:
            self.idle.append(conn)

    def finished(self, conn: Conn, status: int, due: float, first: float | None) -> None:
        self.results.record(status, due, first, self.stream)
        self.in_flight -= 1
        self._next(conn)
        self.check_drained()

    def check_drained(self) -> None:
        if not self.sending and self.in_flight <= 0:
            self.drained.set()

    def _done(self, status: int) -> None:
        self.results.statuses[status] = self.results.statuses.get(status, 0) + 1
        self.results.errors += 1
        self.in_flight -= 1
        self.check_drained()

    def lost(self, conn: Conn, busy: bool) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if busy:
            self._done(0)

    def close(self) -> None:
        for c in list(self.conns):
            if c.transport is not None:
                c.transport.close()


async def run_rate(pool: Pool, rate: float, duration: float, grace: float) -> float:
    start = _now()
    total = int(rate * duration)
    sent = 0
    while sent < total:
        now = _now()
        due_count = min(total, int((now - start) * rate) + 1)
        while sent < due_count:
            pool.submit(start + sent / rate)
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - _now()))
    await _settle(pool, grace)
    return _now() - start


async def run_closed(
    pool: Pool, connections: int, duration: float, requests: int | None, grace: float
) -> float:
    start = _now()
    deadline = start + duration
    sent = 0

    def again(conn: Conn) -> None:
        nonlocal sent
        if _now() < deadline and (requests is None or sent < requests):
            sent += 1
            pool.in_flight += 1
            conn.send(pool.request, _now())
        else:
            pool.sending = False
            pool.idle.append(conn)

    pool.on_finish = again
    for _ in range(connections):
        if requests is not None and sent >= requests:
            break
        sent += 1
        pool.submit(_now())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(pool.drained.wait(), max(0.0, deadline - _now()))
    await _settle(pool, grace)
    return _now() - start


async def _settle(pool: Pool, grace: float) -> None:
    pool.sending = False
    pool.check_drained()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(pool.drained.wait(), grace)
    if pool.in_flight > 0:
        pool.results.errors += pool.in_flight
        pool.results.statuses[-1] = pool.in_flight  # -1: no answer within the grace period


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = msgspec.json.decode(args.body) if args.body else None
    request = build_request(args.url, args.model, args.stream, args.api_key, body, args.header)
    max_conns = args.connections if args.mode == "closed" else args.max_connections
    checks = None
    if args.frames:
        checks = StreamChecks(args.frames, args.frame_marker.encode(), args.max_gap_ms)
    pool = Pool(host, port, request, args.stream, max_conns, checks)
    if args.mode == "rate":
        elapsed = await run_rate(pool, args.rate, args.duration, args.grace)
    else:
        elapsed = await run_closed(pool, args.connections, args.duration, args.requests, args.grace)
    pool.close()
    r = results = pool.results
    out: dict[str, Any] = {
        "engine": "loadgen.py",
        "mode": args.mode,
        "stream": args.stream,
        "requests": r.ok + r.errors,
        "ok": r.ok,
        "errors": r.errors,
        "error_rate": round(r.errors / max(1, r.ok + r.errors), 6),
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        "elapsed_s": round(elapsed, 3),
        "rps": round(r.ok / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": summarize(r.latencies_ms),
        "connections_opened": max_conns if args.mode == "closed" else len(pool.conns),
    }
    if args.mode == "rate":
        out["target_rps"] = args.rate
    if args.stream:
        out["ttft_ms"] = summarize(r.ttft_ms)
    if checks is not None:
        out["streams"] = checks.summary()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=["rate", "closed"])
    p.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/v1/chat/completions")
    p.add_argument("--model", default="mock-model")
    p.add_argument("--api-key", default="sk-bench")
    p.add_argument("--stream", action="store_true")
    p.add_argument("--body", default=None, help="a JSON body instead of the chat one")
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--rate", type=float, default=100.0, help="requests per second (rate mode)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of sending")
    p.add_argument("--connections", type=int, default=50, help="in flight (closed mode)")
    p.add_argument("--requests", type=int, default=None, help="stop after this many (closed)")
    p.add_argument("--max-connections", type=int, default=1024, help="cap (rate mode)")
    p.add_argument("--grace", type=float, default=10.0, help="wait for stragglers, seconds")
    p.add_argument("--frames", type=int, default=0, help="check each stream for N frames")
    p.add_argument("--frame-marker", default='"tok', help="what one content frame holds")
    p.add_argument("--max-gap-ms", type=float, default=200.0, help="a longer gap is a stall")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    out = uvloop.run(main_async(parse_args(argv)))
    sys.stdout.write(msgspec.json.encode(out).decode() + "\n")


if __name__ == "__main__":
    main()
