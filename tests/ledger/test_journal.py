"""The journal alone: framing, torn tails, group commit, rotation, release, locking."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenport.errors import ConfigError, ServiceUnavailable
from tokenport.ledger.journal import (
    HEADER,
    Journal,
    Position,
    encode_frame,
    list_segments,
    parse_frames,
    read_batch,
    scan_segment,
    segment_path,
)

pytestmark = pytest.mark.timeout(30)


def test_frames_round_trip() -> None:
    payloads = [b"", b"a", b"hello" * 100]
    buf = b"".join(encode_frame(p) for p in payloads)
    got, used, need = parse_frames(buf, 10)
    assert (got, used, need) == (payloads, len(buf), None)


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 3])
def test_torn_tail_is_ignored(tmp_path: Path, cut: int) -> None:
    good = b"".join(encode_frame(f"rec-{i}".encode()) for i in range(5))
    torn = encode_frame(b"the-last-record")[:cut]
    path = segment_path(tmp_path, 1)
    path.write_bytes(good + torn)
    assert scan_segment(path) == (5, len(good))
    got, used, need = parse_frames(good + torn, 100)
    assert len(got) == 5 and used == len(good) and need is not None


def test_corrupt_frame_stops_the_scan(tmp_path: Path) -> None:
    frames = [encode_frame(f"rec-{i}".encode()) for i in range(5)]
    bad = bytearray(frames[2])
    bad[-1] ^= 0xFF
    path = segment_path(tmp_path, 1)
    path.write_bytes(b"".join([*frames[:2], bytes(bad), *frames[3:]]))
    assert scan_segment(path) == (2, len(frames[0]) + len(frames[1]))


async def test_group_commit_and_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    await journal.open()
    payloads = [f"record-{i}".encode() for i in range(1000)]
    await asyncio.gather(*(journal.append(p) for p in payloads))
    assert journal.durable_frames == 1000
    assert journal.fsyncs < 100  # many appends share one fsync
    got, pos = read_batch(tmp_path, journal.views(), journal.first_position(), 10_000)
    assert got == payloads
    assert pos == Position(journal.active_segment, journal.size_bytes())
    await journal.close()
    with pytest.raises(ServiceUnavailable):
        await journal.append(b"late")


async def test_rotation_release_and_reopen(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1024)
    await journal.open()
    payloads = [bytes([i % 251]) * 100 for i in range(60)]
    for p in payloads:  # one at a time so the flusher sees the segment fill up
        await journal.append(p)
    assert len(list_segments(tmp_path)) > 3
    got, pos = read_batch(tmp_path, journal.views(), Position(1, 0), 25)
    assert got == payloads[:25]
    journal.release(pos)
    assert list_segments(tmp_path)[0] == pos.segment
    rest, _ = read_batch(tmp_path, journal.views(), pos, 1000)
    assert rest == payloads[25:]
    kept, _ = read_batch(tmp_path, journal.views(), Position(pos.segment, 0), 1000)
    await journal.close()

    again = Journal(tmp_path)
    await again.open()  # counts what is left and starts a fresh segment after it
    assert again.durable_frames == len(kept)
    assert again.active_segment == max(list_segments(tmp_path)) > pos.segment
    await again.close()


async def test_large_frame_crosses_read_chunks(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    await journal.open()
    big = b"x" * (3 << 20)
    await journal.append(b"small")
    await journal.append(big)
    got, _ = read_batch(tmp_path, journal.views(), journal.first_position(), 10)
    assert got == [b"small", big]
    await journal.close()


async def test_one_journal_per_directory(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    await first.open()
    with pytest.raises(ConfigError, match="in use"):
        await Journal(tmp_path).open()
    await first.close()
    second = Journal(tmp_path)
    await second.open()
    await second.close()


async def test_abort_fails_unflushed_appends(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    await journal.open()
    await journal.append(b"durable")
    pending = asyncio.ensure_future(journal.append(b"maybe"))
    await journal.abort()
    # Either it made it to disk before the abort or its append failed; never acked and lost.
    try:
        await pending
        acked = True
    except ServiceUnavailable:
        acked = False
    reopened = Journal(tmp_path)
    await reopened.open()
    assert reopened.durable_frames >= (2 if acked else 1)
    await reopened.close()


async def test_a_failed_write_fails_its_appends_and_moves_to_a_new_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokenport.ledger.journal as jmod

    journal = Journal(tmp_path)
    await journal.open()
    await journal.append(b"before")
    real = jmod._write_all

    def torn_write(fd: int, data: bytes, sync: bool = True) -> None:
        import os

        os.write(fd, data[: len(data) // 2])  # half a frame reaches the file, then the disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jmod, "_write_all", torn_write)
    with pytest.raises(ServiceUnavailable, match="No space"):
        await journal.append(b"lost-and-not-acknowledged")
    monkeypatch.setattr(jmod, "_write_all", real)
    await journal.append(b"after")
    assert len(list_segments(tmp_path)) == 2
    got, _ = read_batch(tmp_path, journal.views(), journal.first_position(), 10)
    assert got == [b"before", b"after"]
    await journal.close()
    reopened = Journal(tmp_path)
    await reopened.open()
    assert reopened.durable_frames == 2
    await reopened.close()


async def test_process_sync_acknowledges_before_fsync_and_fsyncs_soon(tmp_path: Path) -> None:
    journal = Journal(tmp_path, sync="process", sync_interval=0.02)
    await journal.open()
    for i in range(50):
        await journal.append(f"r{i}".encode())
    assert journal.fsyncs == 0 or journal.fsyncs < 50  # not one fsync per group
    await asyncio.sleep(0.1)
    assert journal.fsyncs >= 1  # the background sync caught up
    await journal.abort()  # a crash: what was acknowledged is in the file
    reopened = Journal(tmp_path)
    await reopened.open()
    assert reopened.durable_frames == 50
    await reopened.close()
