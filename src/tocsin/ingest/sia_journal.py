"""The SIA receiver's write-ahead journal: a panel's ACK waits for one fdatasync, not the engine.

Why: an alarm panel sends its next frame only once the last one is ACKed, and tocsin ACKs
only what is durably stored. Without a journal "stored" means committed by the engine, so
every frame waits for the engine process's group commit in progress and then its own, and
the panels' throughput is 50 connections over that round trip; under an HTTP flood, the
round trip also waits behind bulk commits. With the journal the receiver process appends
the batch to a file of its own, fdatasyncs it, ACKs, and hands the batch to the engine in
larger, less frequent batches. Measured with ``bench/sia.py`` (50 stop-and-wait panels,
2 cores): 12.4-12.7k -> 19.1-20.4k frames/s (the engine's groups of 200 events instead of 20),
and an ACK p99 under a concurrent HTTP flood of 5.4 ms instead of 27 ms.

An ACKed alarm is still never lost: it is in the journal before the ACK, and stays there
until the engine has committed it. After a crash, :meth:`SiaJournal.open` returns every
entry still in the journal and the receiver resubmits them; entries the engine had
committed already are recognised by their events' external ids (every SIA event has
one) and not stored twice.

Format: a directory of segment files named after their first entry's sequence number
(``0000000000000001.journal``), each preallocated with zeros. Each record is a 4-byte big-endian length, the CRC-32 of
the body, and the body, a msgpack :class:`JournalEntry`. Appends made while a write is in
flight go out together in the next one (a group commit). A crash can leave a torn record
at the end of the newest segment: it was never fdatasynced, so never ACKed, and ``open``
reads up to it. A segment is deleted once every entry in it is confirmed and a newer
segment is being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from tocsin.errors import ConfigError, StoreUnavailable
from tocsin.model import Actor, EventIn

__all__ = ("SEGMENT_BYTES", "JournalEntry", "SiaJournal")

log = logging.getLogger(__name__)

SEGMENT_BYTES = 1024 * 1024
"""A segment past this size is closed and a new one started with the next write. Confirmations
are not written down, so after a crash the segments still holding an unconfirmed entry come
back whole: small segments keep that replay short (about 2,500 SIA events each)."""
GATHER_TURNS = 3
"""Event-loop turns a write waits for, so that frames already read join it. A frame read
takes two turns to become an append (the batcher forms a batch; its call starts and
appends it); the write and its fdatasync block the loop, and every frame that arrived
meanwhile is read afterwards. Written at once, most writes held a few frames; after three
turns, those read in the same pass too (``bench/sia.py``, tocsin-journal: about 17k -> 20k
frames/s, 50 panels, when a frame took one turn more to reach the batcher; 2 and 5 turns
did no better). A lone frame loses nothing: with nothing else ready, a turn takes
microseconds."""
LOCK_WAIT_S = 10.0
"""How long ``open`` waits for another process (a receiver process still stopping) to let go."""
_HEADER = struct.Struct(">II")
_SUFFIX = ".journal"


class JournalEntry(msgspec.Struct, array_like=True, frozen=True):
    """One accepted batch: what the receiver would have handed to ``accept``."""

    seq: int
    actor: Actor
    events: list[EventIn]
    raw: list[str | None]


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(JournalEntry).decode


class _Segment:
    __slots__ = ("capacity", "path", "size", "unconfirmed")

    def __init__(self, path: Path, size: int, capacity: int = 0) -> None:
        self.path = path
        self.size = size
        """Bytes of whole records from the start."""
        self.capacity = capacity
        """Bytes preallocated (0: a recovered segment, never written again)."""
        self.unconfirmed: set[int] = set()


class SiaJournal:
    """Durable appends and confirmations of accepted batches, in one directory.

    One process at a time: the receiver process that owns it. ``open`` first, then
    ``append`` from the event loop and ``confirm`` once the engine has committed an entry.

    Raises (``append``):
        StoreUnavailable: the write or the fdatasync failed. The journal is then broken
            for good (after a failed fdatasync the kernel may have dropped the pages), and
            the caller falls back to waiting for the engine.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._where: dict[int, tuple[_Segment, int]] = {}
        """Unconfirmed seq -> its segment and its number of events."""
        self._current: _Segment | None = None
        self._fd: int | None = None
        self._lock: int | None = None
        self._next_seq = 1
        self._waiting: list[tuple[bytes, JournalEntry, asyncio.Future[None]]] = []
        self._flushing = False
        self.broken: str | None = None
        """Why appends fail from now on (None while the journal works)."""
        self.pending_events = 0
        """Events journaled and not yet confirmed."""
        self.first_own_seq = 1
        """Entries from this seq on were appended by this process; lower ones were recovered by :meth:`open`."""

    def open(self) -> list[JournalEntry]:
        """Create the directory or recover it; the entries still unconfirmed, in order.

        Segments are preallocated with zeros: a zero length ends a segment cleanly. A short
        or corrupt record ends it too (in the newest segment, a write a crash tore, never
        fdatasync'd and so never ACKed; elsewhere, corruption, logged as an error).
        Recovered segments are only read, never written again.

        Raises:
            ConfigError: another process holds the journal for longer than :data:`LOCK_WAIT_S`.
        """
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # raw alarm frames: the receiver's only
        self._lock = _locked(self.directory / "LOCK")
        entries: list[JournalEntry] = []
        paths = sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))
        for index, path in enumerate(paths):
            data = path.read_bytes()
            found, good = _records(data)
            if data.count(0, good) != len(data) - good:
                newest = index == len(paths) - 1
                (log.warning if newest else log.error)(
                    "sia journal: a record cut short or corrupt ends its segment",
                    extra={"segment": path.name, "offset": good},
                )
            segment = _Segment(path, good)
            for entry in found:
                self._track(segment, entry)
                self._next_seq = max(self._next_seq, entry.seq + 1)
            if not found:  # nothing in it to confirm
                _drop(segment)
            entries.extend(found)
        self.first_own_seq = self._next_seq
        return entries

    async def append(self, actor: Actor, events: list[EventIn], raw: list[str | None]) -> JournalEntry:
        """Journal one batch; returns once it is on disk (fdatasync'd)."""
        if self.broken is not None:
            raise StoreUnavailable(f"the SIA journal failed: {self.broken}")
        entry = JournalEntry(self._next_seq, actor, events, raw)
        self._next_seq += 1
        body = _encode(entry)
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((record, entry, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await future
        return entry

    def confirm(self, seqs: Iterable[int]) -> None:
        """The engine has committed these entries: forget them, and delete emptied segments."""
        for seq in seqs:
            found = self._where.pop(seq, None)
            if found is None:
                continue
            segment, count = found
            self.pending_events -= count
            segment.unconfirmed.discard(seq)
            if not segment.unconfirmed and segment is not self._current:
                _drop(segment)

    def close(self) -> None:
        """Close the segment being written (deleted if all of it is confirmed) and let go of the lock."""
        self._retire()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    async def _flush(self) -> None:
        """Write everything waiting, in as few write+fdatasync rounds as arrive.

        The write and its fdatasync run on the event loop itself, which waits for them
        (about 0.1 ms): the receiver process does nothing else meanwhile that would not
        wait for the journal too, and handing them to a worker thread cost more, in
        thread switches, than the wait (``bench/sia.py``: 15.7k frames/s that way, 17.0k
        this way). Measured again once frames cost less to read (about 20k frames/s this
        way): a worker thread 16.2-16.6k, a helper process doing the fdatasync with no GIL
        to share 17.1-18.5k, however many loop turns a write gathers. 50 stop-and-wait
        panels answer in one wave: waiting here, each write takes the whole wave, and the
        wait leaves the CPU to the engine; writes that overlap reading split the wave into
        more, smaller ones. (No fdatasync at all, for scale: 25.1k.) Everything runs on
        the loop, so ``confirm`` never sees a segment change under it.
        """
        try:
            while self._waiting:
                for _ in range(GATHER_TURNS):  # let the frames already read reach the journal too
                    await asyncio.sleep(0)
                batch, self._waiting = self._waiting, []
                if self.broken is not None:
                    _fail(batch, StoreUnavailable(f"the SIA journal failed: {self.broken}"))
                    continue
                blob = b"".join(record for record, _, _ in batch)
                try:
                    segment = self._current
                    if segment is None or segment.size + len(blob) > segment.capacity:
                        segment = await self._start_segment(batch[0][1].seq, len(blob))
                    _write_at(self._fd, blob, segment.size)
                except OSError as exc:
                    self.broken = f"{type(exc).__name__}: {exc}"
                    log.error("sia journal write failed; ACKs wait for the engine again", extra={"error": str(exc)})
                    _fail(batch, StoreUnavailable(f"the SIA journal failed: {self.broken}"))
                    continue
                segment.size += len(blob)
                for _, entry, future in batch:
                    self._track(segment, entry)
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = False

    async def _start_segment(self, first_seq: int, need: int) -> _Segment:
        """Retire the segment being written and start a new, preallocated one.

        Preallocated (zeros written and fsync'd once): an fdatasync of a write inside the
        file's size need not also commit a new size to the file system's own journal.
        Measured here: 0.11 ms against 0.17-0.22 ms at the median, 0.17 against 0.25-0.9 ms
        at p99.
        """
        self._retire()
        path = self.directory / f"{first_seq:016d}{_SUFFIX}"
        capacity = max(self._segment_bytes, need)
        self._fd = await asyncio.get_running_loop().run_in_executor(None, _preallocated, path, capacity)
        segment = self._current = _Segment(path, 0, capacity)
        return segment

    def _retire(self) -> None:
        """Close the segment being written; it goes now if all of it is confirmed, else with its last confirmation."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        current, self._current = self._current, None
        if current is not None and not current.unconfirmed:
            _drop(current)

    def _track(self, segment: _Segment, entry: JournalEntry) -> None:
        segment.unconfirmed.add(entry.seq)
        self._where[entry.seq] = (segment, len(entry.events))
        self.pending_events += len(entry.events)


def _drop(segment: _Segment) -> None:
    with contextlib.suppress(FileNotFoundError):
        segment.path.unlink()


def _locked(path: Path) -> int:
    """An open descriptor of ``path`` holding an exclusive flock on it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise ConfigError(f"the SIA journal {path.parent} is in use by another process") from None
            time.sleep(0.05)


def _records(data: bytes) -> tuple[list[JournalEntry], int]:
    """The whole records at the start of ``data``, and where the first bad one begins."""
    entries: list[JournalEntry] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        size, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + size
        body = data[offset + _HEADER.size : end]
        if size == 0 or end > len(data) or zlib.crc32(body) != crc:  # 0: the preallocated rest
            break
        try:
            entries.append(_decode(body))
        except msgspec.DecodeError:
            break
        offset = end
    return entries, offset


def _write_at(fd: int | None, blob: bytes, offset: int) -> None:
    if fd is None:
        raise OSError("the journal segment is closed")
    view = memoryview(blob)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
    os.fdatasync(fd)


def _preallocated(path: Path, capacity: int) -> int:
    """A new segment file of ``capacity`` zero bytes, durable with its name; its descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        zeros = bytes(min(capacity, 1 << 16))
        written = 0
        while written < capacity:
            written += os.write(fd, zeros[: capacity - written])
        os.fsync(fd)
        _fsync_directory(path.parent)  # the new name must survive a crash with its data
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fail(batch: list[tuple[bytes, JournalEntry, asyncio.Future[None]]], error: Exception) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)
