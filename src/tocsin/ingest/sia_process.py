"""The SIA DC-09 receiver in a process of its own, feeding the engine over a socket pair.

Why a process: in the server's process the receiver shares one GIL with the HTTP server
and the store's writer thread, and together they never got past about 90 % of one core
(8-11k frames/s on two cores). In a child process the receiver reads, checks and answers
frames on one core while the engine guards and commits on the other.

Nothing about what a frame gets changes. The child runs the same :class:`SiaReceiver`;
its ``accept`` sends each batch over the link to the parent, where the runtime's ingest
door guards and durably commits it, and waits for the parent's answer before it ACKs. So
an ACK still means "stored", a refusal still means DUH, and an overloaded or failed store
still means silence (the panel resends; deduplication absorbs the copy). With its journal
(``[sia] journal``, the default; :mod:`.sia_journal`), "stored" is the child's own
fdatasync'd journal, and the batch goes up afterwards (see :class:`_ParentLink`).

The parent binds the TCP and UDP sockets and hands them down, so a bind error is the
parent's :class:`ConfigError`, and the kernel keeps queueing panels' connections while a
crashed child is restarted (with the outages the store holds open at that moment). The
child exits as soon as its link closes: a server killed with -9 leaves no receiver behind
answering panels with nothing to store their alarms.

The link's messages are :mod:`.sia_link`'s. The child's counters travel up once a second
and when it stops, and the parent's :class:`SiaMetrics` adds them to those of earlier children.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from tocsin._internal import heap
from tocsin._internal.logging import configure_logging
from tocsin.engine.policy import check_events
from tocsin.errors import ConfigError, StoreUnavailable, TocsinError
from tocsin.ingest.door import Accept
from tocsin.ingest.sia import STOP_GRACE_S, SiaConfig, SiaMetrics, SiaReceiver, validate_config
from tocsin.ingest.sia_batch import RECEIVER_ACTOR
from tocsin.ingest.sia_journal import JournalEntry, SiaJournal
from tocsin.ingest.sia_link import (
    FROM_CHILD,
    FROM_PARENT,
    KINDS,
    Counters,
    Kind,
    Ready,
    Refused,
    Start,
    Stop,
    Stored,
    Submit,
    encode_message,
    read_message,
)
from tocsin.ingest.sia_listen import bind_sockets
from tocsin.ingest.supervision import Outages
from tocsin.model import Actor, EventIn

__all__ = ("COUNTERS_INTERVAL_S", "MAX_PENDING_EVENTS", "RESTART_DELAY_S", "SEND_DELAY_S", "SiaProcess", "main")

log = logging.getLogger(__name__)

COUNTERS_INTERVAL_S = 1.0
"""How often the child reports its counters (they are also reported when it stops)."""
RESTART_DELAY_S = 1.0
"""Wait before a child that died is started again (doubling while it keeps dying, up to 30 s)."""
READY_TIMEOUT_S = 30.0
"""How long a starting child may take to report that it serves."""
SEND_DELAY_S = 0.01
"""How long a journaled batch waits for others to go up to the engine with (``bench/sia.py``:
groups of about 150 events at 14k frames/s, against 20 when each batch went alone, and
half the engine's CPU per frame). 5 ms, once journaled groups overlapped their COMMIT: fewer
frames/s in each of 4 runs taken in turns, at every host speed (15.3k against 17.5k at full
speed); 25 and 50 ms did no better than 10."""
MAX_SUBMIT_EVENTS = 2000
"""Most events of journaled batches sent up in one message."""
MAX_PENDING_EVENTS = 50_000
"""Journaled events the engine has not confirmed past which a panel's ACK waits for the engine again."""
RETRY_S = 1.0
"""Wait before journaled batches the engine did not store (overloaded, failed) are sent again."""
_MAX_RESTART_DELAY_S = 30.0
_STABLE_S = 60.0
"""A child that served this long before it ended is restarted after the shortest delay again."""


# -- the parent's side ------------------------------------------------------------------------


class JournaledAccept(Protocol):
    """The door for journaled batches (``Runtime.accept_journaled``); ``judged``: see ``Submit.judged``."""

    def __call__(
        self, items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None, judged: bool
    ) -> Awaitable[object]: ...


class SiaProcess:
    """Runs a :class:`SiaReceiver` in a child process; the same lifecycle as the receiver.

    Args:
        config: where to listen and the accounts served.
        accept: the ingest door the child's batches are handed to when a panel waits for
            the answer (no journal, or the journal unusable): an urgent one, ahead of queued
            HTTP ingest.
        accept_journaled: the door for batches the child has journaled and ACKed already
            (default: ``accept``): urgent too, as an operator waits for the alarm to show,
            but no panel waits on its commit (``Runtime.accept_journaled``). It is told
            whether the child's guard judged the batch already (``Submit.judged``).
        reload_outages: the comm failures the store holds open now, for a restarted child
            to resume (the first child gets those passed to :meth:`start`).

    Raises:
        ConfigError: a bad ``host:port``, a bad key, or an account configured twice.
    """

    def __init__(
        self,
        config: SiaConfig,
        accept: Accept,
        *,
        accept_journaled: JournaledAccept | None = None,
        reload_outages: Callable[[], Awaitable[Outages]],
    ) -> None:
        validate_config(config)  # a bad config fails here, as the receiver's own would
        self.config = config
        self.metrics = SiaMetrics()
        self._accept = accept
        self._accept_journaled = accept_journaled
        self._reload_outages = reload_outages
        self._tcp: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._ended = SiaMetrics()
        """The counters of children that have ended; ``metrics`` is these plus the live child's."""
        self._child: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stop_requested = asyncio.Event()
        self.restarts = 0
        self.journal_pending = 0
        """Events the child ACKed from its journal that the engine has not confirmed (as of its last report)."""

    @property
    def bound_tcp(self) -> tuple[str, int] | None:
        return _sockname(self._tcp)

    @property
    def bound_udp(self) -> tuple[str, int] | None:
        return _sockname(self._udp)

    @property
    def serving(self) -> bool:
        """Whether a child is answering panels (False while one that died is being replaced)."""
        return self._writer is not None and self.pid is not None

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between children)."""
        return self._child.pid if self._child is not None and self._child.returncode is None else None

    async def start(self, outages: Outages | None = None) -> None:
        """Bind the sockets, start the child and return once it serves.

        Raises:
            ConfigError: an address cannot be bound, or the child did not start.
        """
        self._tcp, self._udp = bind_sockets(self.config.tcp, self.config.udp)
        try:
            reader = await self._spawn(outages or {})
        except BaseException:
            self._close_sockets()
            raise
        self._watcher = asyncio.get_running_loop().create_task(self._serve(reader))
        log.info("sia receiver process started", extra={"pid": self.pid, "tcp": self.bound_tcp, "udp": self.bound_udp})

    async def stop(self) -> None:
        """Tell the child to stop (it finishes the frames in hand first), then close the sockets."""
        self._stop_requested.set()
        child, writer = self._child, self._writer
        if child is not None and writer is not None and child.returncode is None:
            with contextlib.suppress(ConnectionError):
                writer.write(encode_message(Stop()))
            try:
                await asyncio.wait_for(child.wait(), STOP_GRACE_S + 5)
            except TimeoutError:
                log.warning("sia receiver process did not stop; killing it", extra={"pid": child.pid})
                child.kill()
                await child.wait()
        if self._watcher is not None:
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        self._close_sockets()
        log.info("sia receiver process stopped")

    async def _spawn(self, outages: Outages) -> asyncio.StreamReader:
        parent_end, child_end = socket.socketpair()
        fds = [child_end.fileno()] + [s.fileno() for s in (self._tcp, self._udp) if s is not None]
        argv = [str(child_end.fileno()), _fd(self._tcp), _fd(self._udp)]
        try:
            self._child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, *argv, pass_fds=fds, stdin=subprocess.DEVNULL
            )
        finally:
            child_end.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=parent_end)
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        self._writer.write(encode_message(Start(self.config, dict(outages), level)))
        first = read_message(reader, FROM_CHILD)
        try:
            ready = await asyncio.wait_for(first, READY_TIMEOUT_S)
        except TimeoutError:
            ready = None
        if not isinstance(ready, Ready):
            await self._reap()
            raise ConfigError("the SIA receiver process did not start (see its log)")
        return reader

    async def _serve(self, reader: asyncio.StreamReader | None) -> None:
        """Answer the child's batches; start a new child if it dies while tocsin runs."""
        loop = asyncio.get_running_loop()
        delay = RESTART_DELAY_S
        while reader is not None:
            began = loop.time()
            await self._serve_child(reader)
            await self._reap()
            self._ended = msgspec.structs.replace(self.metrics)
            if loop.time() - began > _STABLE_S:
                delay = RESTART_DELAY_S
            reader, delay = await self._replace(delay)

    async def _replace(self, delay: float) -> tuple[asyncio.StreamReader | None, float]:
        """Start a new child after ``delay`` s, doubling it while starts fail; None once stopping.

        Returns the new child's link and the delay to use after it.
        """
        while not self._stop_requested.is_set():
            log.error("sia receiver process ended; starting a new one", extra={"delay_s": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)
            delay = min(_MAX_RESTART_DELAY_S, delay * 2)
            if self._stop_requested.is_set():
                break
            try:
                reader = await self._spawn(await self._reload_outages())
            except Exception:
                log.exception("sia receiver process did not start")
                continue
            self.restarts += 1
            log.info("sia receiver process restarted", extra={"pid": self.pid})
            return reader, delay
        return None, delay

    async def _serve_child(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        link = self._writer  # this child's: the answers to its batches go to it or nowhere
        while (message := await read_message(reader, FROM_CHILD)) is not None:
            if isinstance(message, Submit):
                task = loop.create_task(self._ingest(message, link))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            elif isinstance(message, Counters):
                self.journal_pending = message.journal_pending
                for name in SiaMetrics.__struct_fields__:  # in place: /metrics holds this struct
                    setattr(self.metrics, name, getattr(self._ended, name) + getattr(message.metrics, name))

    async def _ingest(self, message: Submit, link: asyncio.StreamWriter | None) -> None:
        """Hand a child's batch to the engine and answer that child.

        Only that child: after a restart a batch of the dead child's may still be committing,
        and its answer, carrying the dead child's message id, would settle whatever batch
        of the new child has the same id (and, from its journal, delete it uncommitted).
        """
        reply: msgspec.Struct
        try:
            if message.journaled and self._accept_journaled is not None:
                await self._accept_journaled(message.events, message.actor, raw=message.raw, judged=message.judged)
            else:
                await self._accept(message.events, message.actor, raw=message.raw)
        except TocsinError as exc:
            kind: Kind = next((k for k, cls in KINDS.items() if isinstance(exc, cls)), "failed")
            reply = Refused(message.id, kind, exc.detail)
        except Exception as exc:
            log.exception("sia batch failed", extra={"events": len(message.events)})
            reply = Refused(message.id, "failed", f"{type(exc).__name__}: {exc}")
        else:
            reply = Stored(message.id)
        if link is not None and link is self._writer and not link.is_closing():
            link.write(encode_message(reply))

    async def _reap(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._child is not None:
            if self._child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._child.kill()
            await self._child.wait()

    def _close_sockets(self) -> None:
        for sock in (self._tcp, self._udp):
            if sock is not None:
                sock.close()


def _fd(sock: socket.socket | None) -> str:
    return str(sock.fileno()) if sock is not None else "-"


def _sockname(sock: socket.socket | None) -> tuple[str, int] | None:
    if sock is None or sock.fileno() < 0:
        return None
    host, port = sock.getsockname()[:2]
    return str(host), int(port)


# -- the child's side -------------------------------------------------------------------------


class _ParentLink:
    """The child's ingest door: each batch goes up the link; the answer settles its caller.

    With a journal (``[sia] journal``, the default), a batch the guard passes returns as soon as it is
    in the journal (:mod:`.sia_journal`), and goes up later, gathered with others for up
    to :data:`SEND_DELAY_S`; the engine's answer confirms it.
    Journaled batches reach the engine in the order they were journaled, retried in that
    order while the engine is unavailable. The engine refuses a batch whole, so the entries
    of a refused one go again one by one, and only the refused entry is dropped (the
    engine audited the refusal; the receiver asks the guard before it journals, so this
    is for entries replayed from an earlier process's journal, which an upgraded guard may
    refuse). Past :data:`MAX_PENDING_EVENTS` unconfirmed
    events a batch is still journaled but returns only once confirmed, so a stalled engine
    slows the panels down instead of filling the disk.
    """

    def __init__(self, writer: asyncio.StreamWriter, journal: SiaJournal | None, metrics: SiaMetrics) -> None:
        self._writer = writer
        self._journal = journal
        self._metrics = metrics
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._outbox: collections.deque[JournalEntry] = collections.deque()
        """Journaled entries not yet sent up, in journal order."""
        self._sent: dict[int, list[JournalEntry]] = {}
        """Submit id -> the journaled entries it carries, until the engine answers."""
        self._confirmed: dict[int, asyncio.Future[None]] = {}
        """Journal seq -> a caller waiting for its confirmation (past the pending bound)."""
        self._send_timer: asyncio.TimerHandle | None = None
        """When the outbox goes up next (None: it is empty or just went)."""

    async def accept(
        self, items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None
    ) -> None:
        if self._writer.is_closing():
            raise StoreUnavailable("the engine process is gone")
        journal = self._journal
        texts = list(raw or [None] * len(items))
        if journal is None or journal.broken is not None or check_events(items):
            await self._submit(list(items), actor, texts)  # a refusal is the engine's to audit and answer
            return
        bounded = journal.pending_events >= MAX_PENDING_EVENTS
        entry = await journal.append(actor, list(items), texts)
        self._metrics.journaled += len(entry.events)
        self.queue([entry])  # goes up after a delay: the confirmation cannot come before the wait below
        if bounded:
            self._confirmed[entry.seq] = waiter = asyncio.get_running_loop().create_future()
            await waiter

    def queue(self, entries: list[JournalEntry]) -> None:
        """Send journaled entries up after :data:`SEND_DELAY_S` (with whatever joins them)."""
        self._outbox.extend(entries)
        if self._send_timer is None:
            self._send_timer = asyncio.get_running_loop().call_later(SEND_DELAY_S, self._send_outbox)

    def _send_outbox(self) -> None:
        self._send_timer = None
        while self._outbox and not self._writer.is_closing():
            chunk: list[JournalEntry] = []
            count = 0
            while self._outbox and (not chunk or count + len(self._outbox[0].events) <= MAX_SUBMIT_EVENTS):
                entry = self._outbox.popleft()
                chunk.append(entry)
                count += len(entry.events)
            self._send(chunk)

    def _send(self, chunk: list[JournalEntry]) -> None:
        assert self._journal is not None  # only journaled entries are sent in chunks
        actors = {entry.actor for entry in chunk}
        ident = next(self._ids)
        self._sent[ident] = chunk
        message = Submit(
            ident,
            actors.pop() if len(actors) == 1 else RECEIVER_ACTOR,
            [event for entry in chunk for event in entry.events],
            [text for entry in chunk for text in entry.raw],
            journaled=True,
            # this process's own appends passed its guard; recovered ones are the engine's to judge
            judged=chunk[0].seq >= self._journal.first_own_seq,  # in journal order: the rest are newer
        )
        self._writer.write(encode_message(message))

    async def _submit(self, items: list[EventIn], actor: Actor, raw: list[str | None]) -> None:
        ident = next(self._ids)
        future = self._waiting[ident] = asyncio.get_running_loop().create_future()
        self._writer.write(encode_message(Submit(ident, actor, items, raw)))
        try:
            await future
        finally:
            self._waiting.pop(ident, None)

    def settle(self, message: Stored | Refused) -> None:
        chunk = self._sent.pop(message.id, None)
        if chunk is not None:
            self._settle_journaled(chunk, message)
            return
        future = self._waiting.get(message.id)
        if future is None or future.done():
            return
        if isinstance(message, Stored):
            future.set_result(None)
        else:
            future.set_exception(KINDS[message.kind](message.detail))

    def _settle_journaled(self, chunk: list[JournalEntry], message: Stored | Refused) -> None:
        assert self._journal is not None
        if isinstance(message, Refused) and message.kind != "refused":  # not stored: again, in order
            log.warning("sia journal: the engine did not store a batch; retrying", extra={"error": message.detail})
            self._outbox.extendleft(reversed(chunk))
            if self._send_timer is not None:  # no sooner than the retry: the outbox goes up in order
                self._send_timer.cancel()
            self._send_timer = asyncio.get_running_loop().call_later(RETRY_S, self._send_outbox)
            return
        if isinstance(message, Refused):  # recovered, and refused by the engine's (newer) guard, which audited it
            if len(chunk) > 1:  # the engine refuses a batch whole: find the entries it refuses
                for entry in chunk:
                    self._send([entry])
                return
            log.error("sia journal: the engine refused a journaled batch", extra={"error": message.detail})
        self._journal.confirm(entry.seq for entry in chunk)
        for entry in chunk:
            waiter = self._confirmed.pop(entry.seq, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def flush(self) -> None:
        """Send what waits in the outbox now (stopping)."""
        if self._send_timer is not None:
            self._send_timer.cancel()
        self._send_outbox()

    @property
    def unsettled(self) -> bool:
        """Whether journaled entries are still waiting to be sent or answered."""
        return bool(self._outbox or self._sent)

    def gone(self) -> None:
        """The parent closed the link: nothing waiting will be stored (and so not ACKed).

        Journaled entries stay in the journal, for the next child to send.
        """
        for future in (*self._waiting.values(), *self._confirmed.values()):
            if not future.done():
                future.set_exception(StoreUnavailable("the engine process is gone"))

    def send(self, message: msgspec.Struct) -> None:
        if not self._writer.is_closing():
            self._writer.write(encode_message(message))


async def _child(link_fd: int, tcp_fd: int | None, udp_fd: int | None) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=link_fd))
    start = await read_message(reader, FROM_PARENT)
    if not isinstance(start, Start):
        return
    configure_logging(start.log_level)
    journal: SiaJournal | None = None
    replay: list[JournalEntry] = []
    if start.config.journal and start.config.journal_dir is not None:
        journal = SiaJournal(Path(start.config.journal_dir))
        replay = journal.open()
    metrics = SiaMetrics()
    link = _ParentLink(writer, journal, metrics)
    receiver = SiaReceiver(start.config, link.accept, metrics=metrics)
    if replay:  # ACKed before a crash or a stop, perhaps not stored: again (the engine skips what it has)
        metrics.replayed += sum(len(entry.events) for entry in replay)
        log.info("sia journal: resubmitting entries", extra={"entries": len(replay)})
        link.queue(replay)
    tcp = socket.socket(fileno=tcp_fd) if tcp_fd is not None else None
    udp = socket.socket(fileno=udp_fd) if udp_fd is not None else None
    await receiver.start(start.outages, sockets=(tcp, udp))
    heap.settle()  # a frame's objects die within its batch: see tocsin._internal.heap
    link.send(Ready())
    stop = asyncio.Event()

    async def listen() -> None:
        while (message := await read_message(reader, FROM_PARENT)) is not None:
            if isinstance(message, Stored | Refused):
                link.settle(message)
            elif isinstance(message, Stop):
                stop.set()
        link.gone()
        stop.set()

    def counters() -> Counters:
        return Counters(receiver.metrics, journal.pending_events if journal is not None else 0)

    async def report() -> None:
        while True:
            await asyncio.sleep(COUNTERS_INTERVAL_S)
            link.send(counters())

    listener, reporter = asyncio.create_task(listen()), asyncio.create_task(report())
    await stop.wait()
    await receiver.stop()  # answers the frames in hand: the listener still settles their batches
    if journal is not None:  # what is journaled goes up now and, confirmed, leaves the journal
        link.flush()
        deadline = asyncio.get_running_loop().time() + STOP_GRACE_S
        while link.unsettled and not listener.done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        journal.close()
    reporter.cancel()
    link.send(counters())
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    listener.cancel()
    await asyncio.gather(listener, reporter, return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the child: ``python -m tocsin.ingest.sia_process LINK_FD TCP_FD|- UDP_FD|-``."""
    link, tcp, udp = (None if arg == "-" else int(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    if link is None:
        raise SystemExit("usage: python -m tocsin.ingest.sia_process LINK_FD TCP_FD|- UDP_FD|-")
    # Ctrl-C reaches the whole process group: the parent stops this child in its own
    # shutdown, after the frames in hand are answered, rather than the child dying first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(_child(link, tcp, udp))
    else:
        uvloop.run(_child(link, tcp, udp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
