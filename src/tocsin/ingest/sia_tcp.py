"""One SIA DC-09 panel's TCP connection: frames in, answers out in the same order.

Why callbacks and not a stream and a task per connection: a frame then costs no task
wake-ups and no future. Bytes arrive in :meth:`PanelConnection.data_received`, each
complete frame is judged there and then (:meth:`Answering.judge`), an answer that needs
nothing stored (a NAK, a link test's ACK) is written at once, and a frame whose events must
be stored first is held until the batcher calls back (:meth:`Answering.hold`), when its
answer is written from that callback. Measured on one machine with 50 stop-and-wait
panels and a door that stores nothing: 26.4 against 31.0 microseconds of the receiver's
CPU a frame, and in ``bench/sia.py``'s noop mode 33.1k and 34.2k frames/s against 32.0k
and 29.5k, runs taken in turns.

Order: a connection holds at most one frame at a time; frames that arrive behind it wait
in its backlog and are judged, in order, once it is answered, so answers leave in the
order their frames came (a DC-09 panel sends its next frame only after the last answer,
so the backlog is nearly always empty). Reading pauses while the backlog is long, and
while the panel does not read its answers (the transport's write buffer is full);
:meth:`.sia.SiaReceiver` closes a connection that stays so, or that stays idle, longer
than ``idle_timeout_s``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Generic, Protocol, TypeVar, cast

from tocsin.ingest.sia_batch import Done
from tocsin.ingest.sia_framing import FrameBuffer

__all__ = ("BACKLOG_FRAMES", "Answering", "PanelConnection", "peer_text")

log = logging.getLogger(__name__)

BACKLOG_FRAMES = 64
"""Frames waiting behind a held one past which the connection stops reading (memory bound)."""

H = TypeVar("H")
"""The receiver's held frame: what :meth:`Answering.judge` returns for a frame to be stored."""


class Answering(Protocol[H]):
    """What a connection asks of the receiver that owns it (:class:`.sia.SiaReceiver`)."""

    def admit(self, conn: PanelConnection[H]) -> bool:
        """Count a new connection in, or refuse it (False: it closes at once)."""
        ...

    def release(self, conn: PanelConnection[H]) -> None:
        """The connection is closed."""
        ...

    def judge(self, frame: bytes, peer: str) -> bytes | H | None:
        """The answer to ``frame`` now (bytes, or None for silence), or, for a frame whose
        events must be stored first, the held frame for :meth:`hold`."""
        ...

    def hold(self, held: H, done: Done) -> None:
        """Store the held frame's events; ``done`` is called once they are durable or refused."""
        ...

    def answer(self, held: H, error: BaseException | None) -> bytes | None:
        """The answer to a held frame once its events were stored (``error`` None) or not."""
        ...

    def discarded(self, peer: str, reason: str, count: int) -> None:
        """Bytes that were no frame were dropped."""
        ...

    @property
    def stopping(self) -> bool:
        """Whether the receiver is stopping: no new frame is judged."""
        ...


class PanelConnection(asyncio.Protocol, Generic[H]):
    """One TCP connection; ``busy`` while a frame of it waits to be stored.

    ``idle_since`` (event-loop time) is when it last received bytes or sent a held frame's
    answer; ``stalled_since`` is when its write buffer filled up (None while the panel reads
    its answers).
    """

    def __init__(self, host: Answering[H]) -> None:
        self._host = host
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self.peer = ""
        self._buffer = FrameBuffer(on_discard=self._discarded)
        self._held: H | None = None
        self._backlog: collections.deque[bytes] = collections.deque()
        self._eof = False
        self._closed = False
        self._reading_paused = False
        self.idle_since = self._loop.time()
        self.stalled_since: float | None = None
        self._closing_since: float | None = None
        """When it began to close: answers it cannot send may keep it open (see :meth:`expire`)."""

    @property
    def busy(self) -> bool:
        return self._held is not None

    @property
    def closing(self) -> bool:
        return self._closed or self._closing_since is not None

    @property
    def unsent(self) -> bool:
        """Whether answers wait in the transport's buffer: the panel is not reading them."""
        return self._transport is not None and self._transport.get_write_buffer_size() > 0

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.peer = peer_text(transport.get_extra_info("peername"))
        if not self._host.admit(self):
            self.close()
            self._closed = True

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self.idle_since = self._loop.time()
        frames = self._buffer.feed(data)
        if frames:
            self._backlog.extend(frames)
            if self._held is None:
                self._answer_backlog()
            else:
                self._pace()

    def eof_received(self) -> bool | None:
        self._eof = True
        if self._held is None and not self._backlog:
            self.close()
            return None
        return True  # answer what was sent, then close

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._backlog.clear()
        self._host.release(self)
        if exc is not None:
            log.info("sia connection lost", extra={"peer": self.peer, "error": str(exc)})

    def pause_writing(self) -> None:
        self.stalled_since = self._loop.time()
        self._pace()

    def resume_writing(self) -> None:
        self.stalled_since = None
        self._pace()

    # -- frames ------------------------------------------------------------------------------

    def close(self, *, abort: bool = False) -> None:
        """Close the connection (``abort``: drop unsent answers, for a panel that does not read them)."""
        if self._transport is None or self._closed:
            return
        if self._closing_since is None:
            self._closing_since = self._loop.time()
        if abort:
            self._transport.abort()
        elif not self._transport.is_closing():
            self._transport.close()

    def expire(self, deadline: float) -> str | None:
        """Close the connection if it has been quiet since before ``deadline`` (event-loop
        time); returns why (``"idle"``, ``"not reading its answers"``), or None.

        Aborted: one still closing (its answers cannot be sent), and one whose panel does
        not read its answers. Closed: one waiting for bytes; one whose frame waits for the
        store is never idle.
        """
        if self._closing_since is not None:
            if self._closing_since < deadline:
                self.close(abort=True)
            return None
        if self.stalled_since is not None and self.stalled_since < deadline:
            self.close(abort=True)
            return "not reading its answers"
        if self._held is None and self.idle_since < deadline:
            self.close()
            return "idle"
        return None

    def _answer_backlog(self) -> None:
        """Judge waiting frames in order until one must be held (or none is left)."""
        host, backlog, transport = self._host, self._backlog, self._transport
        assert transport is not None
        while backlog and not self._closed:
            if host.stopping:  # not judged: unanswered, the panel resends it
                backlog.clear()
                break
            verdict = host.judge(backlog.popleft(), self.peer)
            if verdict is None:
                continue
            if isinstance(verdict, bytes):
                transport.write(verdict)
                continue
            self._held = verdict
            host.hold(verdict, self._stored)
            break
        self._pace()
        if self._eof and self._held is None and not backlog:
            self.close()

    def _stored(self, error: BaseException | None) -> None:
        held, self._held = self._held, None
        assert held is not None  # the batcher calls back once per frame held
        reply = self._host.answer(held, error)
        if self._closed:
            return
        self.idle_since = self._loop.time()
        if reply is not None and self._transport is not None:
            self._transport.write(reply)
        self._answer_backlog()

    def _pace(self) -> None:
        """Read while the backlog is short and the panel reads its answers; else wait."""
        pause = self.stalled_since is not None or len(self._backlog) >= BACKLOG_FRAMES
        if pause != self._reading_paused and self._transport is not None and not self._closed:
            self._reading_paused = pause
            if pause:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()

    def _discarded(self, reason: str, count: int) -> None:
        self._host.discarded(self.peer, reason, count)


def peer_text(addr: object) -> str:
    """``host:port`` of a socket address, for logs."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
