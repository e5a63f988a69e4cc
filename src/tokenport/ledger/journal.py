"""The ledger's append-only journal: durable before the database, group-committed.

Layout: `journal_dir/journal-000001.log`, `journal-000002.log`, ... Each segment is a run of
frames `<u32 length><u32 crc32(payload)><payload>`. A crash can tear only the last frame of a
segment; scanning stops at the first frame whose header or checksum does not hold, so a torn
tail is ignored rather than misread.

A process never appends to a segment it did not create: `open()` always starts a new one, so a
torn tail from a previous run is never followed by good frames. Segments left by earlier runs
are "final" (their valid length is fixed by the scan at open), as is every segment this run has
rotated away from; only the active segment grows.

Group commit: `append` puts a frame in a buffer and waits on a future; one flusher task takes
the whole buffer, writes and fsyncs it on a dedicated I/O thread, then resolves every waiter.
While one fsync is in flight the next group gathers, so the fsync rate stays at the disk's
pace while appends per second grow with concurrency.

`sync="process"` trades power-loss safety for latency: an append returns once its frame is
written to the operating system (which a process crash, even SIGKILL, cannot lose), and the
segment is fsynced every `sync_interval` seconds in the background. The default, "fsync",
returns only after the group's fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple, ParamSpec, TypeVar

from tokenport.errors import ConfigError, ServiceUnavailable

log = logging.getLogger("tokenport.ledger")

HEADER = struct.Struct("<II")
MAX_FRAME = 16 << 20  # a header claiming more than this is garbage, not a record
_SEGMENT_RE = re.compile(r"^journal-(\d+)\.log$")
_READ_CHUNK = 1 << 20

P = ParamSpec("P")
T = TypeVar("T")


class Position(NamedTuple):
    """A place in the journal: segment number and byte offset inside it."""

    segment: int
    offset: int


class SegmentView(NamedTuple):
    """What a reader may read of one segment: bytes [0, end). `final` means it will not grow."""

    number: int
    end: int
    final: bool


class ReadBatch(NamedTuple):
    payloads: list[bytes]
    position: Position


def encode_frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def parse_frames(buf: bytes | memoryview, limit: int) -> tuple[list[bytes], int, int | None]:
    """Parse up to `limit` complete frames from the start of `buf`.

    Returns (payloads, bytes consumed, need): `need` is the size of the next frame when it is
    incomplete in `buf` (read more and retry), or None when parsing stopped because `limit`
    was reached, `buf` ended cleanly, or the next frame is corrupt (the caller can tell the
    last case by `consumed < len(buf)`).
    """
    view = memoryview(buf)
    out: list[bytes] = []
    pos = 0
    while len(out) < limit and pos < len(view):
        if len(view) - pos < HEADER.size:
            return out, pos, HEADER.size
        length, crc = HEADER.unpack_from(view, pos)
        if length > MAX_FRAME:
            return out, pos, None
        end = pos + HEADER.size + length
        if end > len(view):
            return out, pos, HEADER.size + length
        payload = bytes(view[pos + HEADER.size : end])
        if zlib.crc32(payload) != crc:
            return out, pos, None
        out.append(payload)
        pos = end
    return out, pos, None


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"journal-{number:06d}.log"


def list_segments(directory: Path) -> list[int]:
    found = (_SEGMENT_RE.match(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def scan_segment(path: Path) -> tuple[int, int]:
    """Count the complete frames of a segment: (frames, valid length). A torn tail ends it."""
    with path.open("rb") as f:
        got, offset = _read_frames(f, 0, None, 1 << 62)
        size = os.fstat(f.fileno()).st_size
    frames = len(got)
    if offset < size:
        log.warning("journal %s: ignoring %d torn/corrupt bytes at %d", path, size - offset, offset)
    return frames, offset


def _read_frames(f: BinaryIO, offset: int, end: int | None, limit: int) -> tuple[list[bytes], int]:
    """Read up to `limit` frames from `offset`, never past `end`; returns (payloads, bytes used)."""
    out: list[bytes] = []
    used = 0
    chunk = _READ_CHUNK
    while len(out) < limit:
        want = chunk if end is None else min(chunk, end - offset - used)
        if want <= 0:
            break
        f.seek(offset + used)
        data = f.read(want)
        got, n, need = parse_frames(data, limit - len(out))
        out.extend(got)
        used += n
        if got:
            chunk = _READ_CHUNK
            continue
        fits = end is None or offset + used + (need or 0) <= end
        if need is not None and len(data) == want and need > want and fits:
            chunk = need  # one frame larger than a chunk: read it whole
            continue
        break  # end of data, a torn tail or a corrupt frame
    return out, used


def read_batch(
    directory: Path, views: tuple[SegmentView, ...], pos: Position, limit: int
) -> ReadBatch:
    """Read up to `limit` payloads from `pos` on, across final segments into the next one."""
    payloads: list[bytes] = []
    for view in views:
        if view.number < pos.segment:
            continue
        if view.number > pos.segment:
            pos = Position(view.number, 0)
        try:
            with segment_path(directory, view.number).open("rb") as f:
                got, used = _read_frames(f, pos.offset, view.end, limit - len(payloads))
        except FileNotFoundError:
            log.error("journal segment %d vanished; skipping it", view.number)
            got, used = [], view.end - pos.offset
        payloads.extend(got)
        pos = Position(view.number, pos.offset + used)
        if len(payloads) >= limit or not view.final or pos.offset < view.end:
            break
    return ReadBatch(payloads, pos)


def _write_all(fd: int, data: bytes, sync: bool = True) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if sync:
        os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    # A new segment's directory entry must be durable too, or its fsynced data is unreachable.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal of one process. One `Journal` per directory (enforced with a lock file)."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 16 << 20,
        sync: Literal["fsync", "process"] = "fsync",
        sync_interval: float = 0.05,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.sync = sync
        self.sync_interval = sync_interval
        self._unsynced = False
        self._syncer: asyncio.Task[None] | None = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-journal")
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._final: dict[int, int] = {}  # segment -> valid length, for non-growing segments
        self._active = 0
        self._active_end = 0
        self._force_rotate = False
        self._buf: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self.flushed = asyncio.Event()  # set after every successful flush; readers clear it
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self.durable_frames = 0  # frames durable on disk, counting those found at open
        self.fsyncs = 0

    async def open(self) -> None:
        """Lock the directory, scan earlier segments, start a fresh active segment."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = await self._run(self._lock)
            for number in list_segments(self.directory):
                frames, end = await self._run(scan_segment, segment_path(self.directory, number))
                self._final[number] = end
                self.durable_frames += frames
            self._active = max(self._final, default=0) + 1
            self._fd = await self._run(self._create, self._active)
        except BaseException:
            self._shutdown()
            raise
        self._flusher = asyncio.create_task(self._flush_loop(), name="ledger-journal-flusher")
        if self.sync == "process":
            self._syncer = asyncio.create_task(self._sync_loop(), name="ledger-journal-sync")

    def first_position(self) -> Position:
        return Position(min(self._final, default=self._active), 0)

    @property
    def active_segment(self) -> int:
        return self._active

    def views(self) -> tuple[SegmentView, ...]:
        """A snapshot of what is durable now, safe to hand to a reader thread."""
        views = [SegmentView(n, end, True) for n, end in sorted(self._final.items())]
        if self._fd is not None:
            views.append(SegmentView(self._active, self._active_end, False))
        return tuple(views)

    def end(self) -> Position:
        """Where the durable journal ends now; a reader there has read everything."""
        if self._fd is None and self._final:
            last = max(self._final)
            return Position(last, self._final[last])
        return Position(self._active, self._active_end)

    def buffered(self) -> int:
        return len(self._buf)

    def size_bytes(self) -> int:
        return sum(v.end for v in self.views())

    def segment_count(self) -> int:
        return len(self.views())

    async def append(self, payload: bytes) -> None:
        """Return once `payload` is fsynced; raise ServiceUnavailable if the write failed."""
        if self._closing or self._fd is None:
            raise ServiceUnavailable("The ledger journal is closed.")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf.append(encode_frame(payload))
        self._waiters.append(fut)
        self._wake.set()
        await fut

    def append_nowait(self, payload: bytes) -> None:
        """Buffer `payload` for the next group write without waiting for it: for records
        whose answer need not wait on the disk (refusals). Raises ServiceUnavailable when
        the journal is closed; a later failed write loses it, as a crash would."""
        if self._closing or self._fd is None:
            raise ServiceUnavailable("The ledger journal is closed.")
        self._buf.append(encode_frame(payload))
        self._wake.set()

    def release(self, pos: Position) -> None:
        """Every frame before `pos` is in the database: delete the segments wholly before it."""
        for number in [n for n in self._final if n < pos.segment]:
            del self._final[number]
            with contextlib.suppress(FileNotFoundError):
                segment_path(self.directory, number).unlink()

    async def close(self) -> None:
        """Flush what is buffered, close the active segment (it becomes final) and unlock."""
        self._closing = True
        self._wake.set()
        if self._flusher is not None:
            await self._flusher
            self._flusher = None
        if self._syncer is not None:
            self._syncer.cancel()
            await asyncio.wait([self._syncer])
            self._syncer = None
        await self._sync_now()
        if self._fd is not None:
            await self._run(os.close, self._fd)
            self._fd = None
            self._final[self._active] = self._active_end
        self._shutdown()

    async def abort(self) -> None:
        """Stop now, as a crash would: buffered frames are not written and their appends fail."""
        self._closing = True
        for task in (self._flusher, self._syncer):
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
        self._flusher = self._syncer = None
        self._fail(self._waiters, ServiceUnavailable("The ledger journal was aborted."))
        self._buf, self._waiters = [], []
        if self._fd is not None:
            # Queued behind any write still running on the I/O thread.
            await self._run(os.close, self._fd)
            self._fd = None
            self._final[self._active] = self._active_end
        self._shutdown()

    def _shutdown(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        self._io.shutdown(wait=False)

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buf:
                await self._flush_once()
            if self._closing:
                return

    async def _flush_once(self) -> None:
        data, frames, waiters = b"".join(self._buf), len(self._buf), self._waiters
        self._buf, self._waiters = [], []
        try:
            if self._force_rotate or self._active_end >= self.segment_bytes:
                await self._rotate()
            assert self._fd is not None
            await self._run(_write_all, self._fd, data, self.sync == "fsync")
            self._unsynced = self.sync != "fsync"
        except OSError as exc:
            log.error("ledger journal write failed: %s", exc)
            await self._recover()
            self._fail(waiters, ServiceUnavailable(f"The ledger journal write failed: {exc}"))
            return
        except asyncio.CancelledError:
            self._fail(waiters, ServiceUnavailable("The ledger journal was aborted."))
            raise
        self._active_end += len(data)
        self.durable_frames += frames  # appends not awaited (`append_nowait`) included
        self.fsyncs += self.sync == "fsync"
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self.flushed.set()

    async def _sync_loop(self) -> None:
        # Runs on the same I/O thread as writes, so it never races a rotate or a close.
        while not self._closing:
            await asyncio.sleep(self.sync_interval)
            await self._sync_now()

    async def _sync_now(self) -> None:
        if self._unsynced and self._fd is not None:
            self._unsynced = False
            await self._run(os.fsync, self._fd)
            self.fsyncs += 1

    async def _rotate(self) -> None:
        await self._sync_now()
        fd = await self._run(self._create, self._active + 1)
        if self._fd is not None:
            await self._run(os.close, self._fd)
        self._final[self._active] = self._active_end
        self._fd, self._active, self._active_end = fd, self._active + 1, 0
        self._force_rotate = False

    async def _recover(self) -> None:
        # Cut off what the failed write may have left, then move on to a fresh segment so no
        # good frame ever follows a torn one.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                await self._run(os.ftruncate, self._fd, self._active_end)
        self._force_rotate = True

    @staticmethod
    def _fail(waiters: list[asyncio.Future[None]], exc: BaseException) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: a cancelled append must not log noise

    def _lock(self) -> int:
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"The ledger journal {self.directory} is in use by another process; "
                "each tokenport replica needs its own journal_dir."
            ) from None
        return fd

    def _create(self, number: int) -> int:
        path = segment_path(self.directory, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        _fsync_dir(self.directory)
        return fd

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))
