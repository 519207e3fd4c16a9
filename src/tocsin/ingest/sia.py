"""The SIA DC-09 receiver: alarm panels' TCP and UDP frames in, ACK/NAK/DUH out, events stored.

Owns the sockets, the per-connection reassembly, the reply decision for each frame and
the accounts' line supervision (a ``tech.comm_failure`` event when an account falls
silent, a cleared one when it reports again; deadlines in :mod:`.supervision`). It does
not parse bytes (:mod:`.sia_codec`, :mod:`.sia_payload`), make events of a frame
(:mod:`.sia_events`), map codes (:mod:`.sia_codes`), judge or store events: every event
goes through the one ``accept`` door (batched by :mod:`.sia_batch`), which guards and
commits durably before it returns.

How each frame is answered (first matching row wins)::

    frame                                                    reply            stored
    -------------------------------------------------------  ---------------  -----------------
    unreadable, bad CRC or length                            NAK              -
    encrypted, and no key for its account or the wrong key   NAK              -
    account not configured (clear or encrypted)              NAK              -
    clear frame from an account that has a key               NAK              -
    timestamp outside -window_before_s..+window_after_s      NAK (our time)   -
      (checked on encrypted frames, and clear ones that carry one)
    NULL or XNM link test                                    ACK              heartbeat only
    any other token but SIA-DCS / ADM-CID                    DUH              -
    SIA-DCS / ADM-CID without a readable event               DUH              -
    accept returned                                          ACK              the events
    accept raised IngestError (guard refusal, decode...)     DUH, logged      -
    accept raised StoreUnavailable, or anything else         nothing, logged  -

Why NAK for an unknown account: the panel keeps retrying and, once its attempts are
spent, fails over to its backup path and shows a communication trouble, so a panel
pointed at the wrong receiver is noticed; a DUH would tell it to give up, silently
losing the alarm. Why silence when the store is overloaded: the panel's ACK timeout is
the back-off (a NAK invites an immediate resend, a retry storm while the store is
already behind, and panels read NAK as "fix your clock"); the panel resends the same
sequence and the store's (source, external_id) deduplication absorbs any copy that had
been stored after all. An ACK is only ever written after ``accept`` returned.

Each event's ``external_id`` is ``{account}:{sequence}:{n}:{tag}`` (see
:func:`frame_external_id`): equal for a resend, so the store keeps one copy, but not for
a new frame that reuses a sequence number after a wrap or a panel restart.

Concurrency: each TCP connection (:mod:`.sia_tcp`) judges its frames as they arrive, from
its protocol callbacks, one after another, and writes the replies in that order (DC-09
panels wait for each answer; parallelism comes from many connections). UDP datagrams are
handled concurrently, at most ``max_connections`` at once. Frames that arrive together,
from any connection, reach ``accept`` in one call (ingest pays per call): audited as the
account when the batch holds one account's frames, as ``sia:receiver`` when it holds
several. Nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta

from tocsin.errors import ConfigError, IngestError, StoreUnavailable
from tocsin.ingest.door import Accept
from tocsin.ingest.sia_batch import Done, FrameBatcher
from tocsin.ingest.sia_codec import (
    SiaDecodeError,
    SiaFrame,
    SiaKeyRequired,
    build_ack,
    build_duh,
    build_nak,
    key_from_config,
    parse_frame,
    timestamp_ok,
)
from tocsin.ingest.sia_crypto import decode_text
from tocsin.ingest.sia_events import RETRANSMIT_WINDOW_S, Unprocessable, frame_events, frame_external_id
from tocsin.ingest.sia_listen import BACKLOG, SiaSockets, bind_sockets, parse_address
from tocsin.ingest.sia_tcp import PanelConnection, peer_text
from tocsin.ingest.supervision import DEFAULT_GRACE_S, Outages, Supervisor, comm_failure, utcnow
from tocsin.model import Actor, Condition, EventIn

__all__ = (
    "RETRANSMIT_WINDOW_S",
    "STOP_GRACE_S",
    "SUPERVISION_GRACE_S",
    "Accept",
    "SiaAccount",
    "SiaConfig",
    "SiaMetrics",
    "SiaReceiver",
    "validate_config",
    "frame_external_id",
    "utcnow",
)

log = logging.getLogger(__name__)

SUPERVISION_GRACE_S = DEFAULT_GRACE_S
"""Extra seconds after ``supervision_s`` before a silent account is declared failed."""
STOP_GRACE_S = 2.0
"""How long ``stop`` lets a frame already being handled finish (and be ACKed)."""

_LINK_TESTS = frozenset({"NULL", "XNM"})
_EVENT_TOKENS = frozenset({"SIA-DCS", "ADM-CID"})
_SUPERVISION_ACTOR = Actor(name="sia:supervision", role="device")


class SiaAccount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One panel account (the ``#acct`` of its frames) and what the receiver knows of it.

    ``key`` set means the account must send encrypted frames (a clear one is NAKed);
    ``supervision_s`` set means it must report (a link test or an event) at least that
    often, or a ``tech.comm_failure`` is raised. The timestamp window is per account
    because real panels drift.
    """

    id: Annotated[str, Meta(pattern=r"^[0-9A-Za-z]{1,16}$")]
    site: str | None = None
    key: str | None = None
    key_format: Literal["hex", "ascii"] = "hex"
    supervision_s: Annotated[int, Meta(gt=0)] | None = None
    window_before_s: Annotated[int, Meta(ge=0)] = 40
    window_after_s: Annotated[int, Meta(ge=0)] = 20


class SiaConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the receiver listens (``"host:port"``, port 0 for any) and which accounts it serves.

    ``max_connections`` bounds open TCP connections (more are closed at once) and UDP
    datagrams being handled (more are dropped unanswered, so the panel resends);
    ``idle_timeout_s`` closes a TCP connection that sends nothing, or does not read its
    answers, for that long. ``max_batch_events`` bounds how many events of frames that
    arrive together are handed to ``accept`` in one call (1: one call per frame).
    ``own_process`` is read by whoever starts the receiver (:mod:`.sia_process`), not by it;
    so are ``journal`` and ``journal_dir``: the receiver process's write-ahead journal
    (:mod:`.sia_journal`), where a frame is made durable before its ACK, and committed by
    the engine milliseconds later. ``journal_dir`` unset: the runtime puts it next to the
    database. ``journal = false`` ACKs only once the engine has committed. Only a receiver
    in a process of its own keeps a journal.
    """

    tcp: str | None = None
    udp: str | None = None
    account: list[SiaAccount] = []
    max_connections: Annotated[int, Meta(ge=1)] = 1000
    idle_timeout_s: Annotated[float, Meta(gt=0)] = 300
    max_batch_events: Annotated[int, Meta(ge=1)] = 500
    own_process: bool = True
    journal: bool = True
    journal_dir: str | None = None


class SiaMetrics(msgspec.Struct):
    """Counters, for a metrics exporter to read; the receiver only ever increments them."""

    frames: int = 0
    acks: int = 0
    naks: int = 0
    duhs: int = 0
    unanswered: int = 0
    events: int = 0
    supervision_failures: int = 0
    unknown_accounts: int = 0
    errors: int = 0
    connections: int = 0
    rejected_connections: int = 0
    dropped_datagrams: int = 0
    junk_bytes: int = 0
    journaled: int = 0
    """Events ACKed once in the journal, before the engine committed them."""
    replayed: int = 0
    """Events a starting receiver process found in the journal and handed to the engine again."""


class _Account:
    """An account as the receiver uses it: canonical id, key bytes, supervision period."""

    __slots__ = ("actor", "after", "before", "id", "key", "period", "site")

    def __init__(self, conf: SiaAccount) -> None:
        self.id = conf.id.upper()
        self.site = conf.site
        self.key = key_from_config(conf.key, conf.key_format) if conf.key is not None else None
        self.before = conf.window_before_s
        self.after = conf.window_after_s
        self.period = conf.supervision_s
        self.actor = Actor(name=f"sia:{self.id}", role="device")

    def supervision_event(self, condition: Condition, episode: datetime, at: datetime) -> EventIn:
        """The comm-failure event of an outage: raised (active) or ended (cleared)."""
        verb = "stopped reporting" if condition == "active" else "reports again"
        return comm_failure(
            condition,
            at,
            source=f"sia:{self.id}",
            site=self.site,
            description=f"SIA account {self.id} {verb} (supervision every {self.period} s)",
            attributes={"account": self.id, "supervision_s": self.period},
            episode_key=f"{self.id}:supervision:{int(episode.timestamp())}",
        )


def validate_config(config: SiaConfig) -> None:
    """Check ``config`` as :class:`SiaReceiver` does, for whoever starts one elsewhere (:mod:`.sia_process`).

    Raises:
        ConfigError: a bad ``host:port``, a bad key, an account configured twice, or a
            journal without a process of its own.
    """
    _accounts(config)
    if config.journal_dir is not None and not config.own_process:
        raise ConfigError("[sia] journal_dir needs own_process = true: the receiver process keeps the journal")


def _context(peer: str, frame: SiaFrame | None) -> dict[str, Any]:
    """What a log line about a frame says of it (never its content)."""
    if frame is None:
        return {"peer": peer}
    return {"peer": peer, "account": frame.effective_account, "seq": frame.sequence, "token": frame.token}


def _accounts(config: SiaConfig) -> dict[str, _Account]:
    """The accounts of ``config`` by id, with its addresses checked (a ConfigError names what is wrong)."""
    for text, what in ((config.tcp, "tcp"), (config.udp, "udp")):
        if text:
            parse_address(text, what)
    accounts: dict[str, _Account] = {}
    for conf in config.account:
        account = _Account(conf)
        if account.id in accounts:
            raise ConfigError(f"SIA account {conf.id!r} is configured twice")
        accounts[account.id] = account
    return accounts


class _Held:
    """A frame whose events wait for ``accept``; answered once it returns (:meth:`SiaReceiver.answer`)."""

    __slots__ = ("account", "events", "frame", "peer", "raw")

    def __init__(self, frame: SiaFrame, account: _Account, events: list[EventIn], text: str, peer: str) -> None:
        self.frame = frame
        self.account = account
        self.events = events
        self.raw: list[str | None] = [text] * len(events)
        """The frame's text, once per event (what ``accept`` stores beside each)."""
        self.peer = peer


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: SiaReceiver) -> None:
        self._receiver = receiver
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # 3.11's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._transport is not None:
            self._receiver._datagram(data, addr, self._transport)

    def error_received(self, exc: Exception) -> None:
        log.debug("sia udp socket error", extra={"error": str(exc)})


class SiaReceiver:
    """Serves SIA DC-09 over TCP and/or UDP for the configured accounts.

    Args:
        config: where to listen and the accounts served.
        accept: the ingest door; an ACK is sent only after it returned.
        clock: wall-clock time (UTC, aware): timestamp window, NAK/ACK timestamps, receipt
            time of events.
        metrics: counters to increment (a fresh :class:`SiaMetrics` when None).
        monotonic: seconds on a monotonic clock; line-supervision deadlines use it, so a
            test can move time without sleeping.
        supervision_grace_s: extra seconds before a silent account is declared failed.
        supervision_tick_s: how often deadlines are checked.

    Raises:
        ConfigError: a bad ``host:port``, a bad key, or an account configured twice.

    Not thread-safe: use it from one event loop. ``start`` then ``stop``, once each.
    """

    def __init__(
        self,
        config: SiaConfig,
        accept: Accept,
        *,
        clock: Callable[[], datetime] = utcnow,
        metrics: SiaMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        supervision_grace_s: float = SUPERVISION_GRACE_S,
        supervision_tick_s: float = 1.0,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else SiaMetrics()
        self._accept = accept
        self._batcher = FrameBatcher(accept, config.max_batch_events)
        self._clock = clock
        self._accounts = _accounts(config)  # a bad config is a ConfigError now, not at start
        self._supervision = Supervisor(
            self._send_supervision,
            what="sia account",
            clock=clock,
            monotonic=monotonic,
            grace_s=supervision_grace_s,
            tick_s=supervision_tick_s,
            on_failure=self._supervision_failed,
        )
        for account in self._accounts.values():
            if account.period is not None:
                self._supervision.watch(account.id, account.period, account.supervision_event)
        self._tcp_server: asyncio.Server | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._connections: set[PanelConnection[_Held]] = set()
        self._datagrams: set[asyncio.Task[None]] = set()
        self._idle_watch: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def bound_tcp(self) -> tuple[str, int] | None:
        """The TCP (host, port) actually bound, once started."""
        if self._tcp_server is None or not self._tcp_server.sockets:
            return None
        host, port = self._tcp_server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def serving(self) -> bool:
        """Whether panels are being answered: started and not stopping (as :class:`.sia_process.SiaProcess`)."""
        return (self._tcp_server is not None or self._udp_transport is not None) and not self._stopping

    @property
    def bound_udp(self) -> tuple[str, int] | None:
        """The UDP (host, port) actually bound, once started."""
        if self._udp_transport is None:
            return None
        host, port = self._udp_transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    async def start(self, outages: Outages | None = None, *, sockets: SiaSockets | None = None) -> None:
        """Serve on ``sockets`` (bound here from the config when None) and start line
        supervision (resuming ``outages``).

        Raises:
            ConfigError: an address cannot be bound (in use, not local...).
        """
        loop = asyncio.get_running_loop()
        tcp, udp = sockets if sockets is not None else bind_sockets(self.config.tcp, self.config.udp)
        if tcp is not None:
            self._tcp_server = await loop.create_server(lambda: PanelConnection(self), sock=tcp, backlog=BACKLOG)
        if udp is not None:
            transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
            self._udp_transport = transport
        self._supervision.start(outages)
        self._idle_watch = loop.create_task(self._close_idle(), name="sia-idle-connections")
        log.info(
            "sia receiver started",
            extra={"tcp": self.bound_tcp, "udp": self.bound_udp, "accounts": len(self._accounts)},
        )

    async def stop(self) -> None:
        """Stop listening, let frames being answered finish (up to :data:`STOP_GRACE_S`), close all.

        A frame cut off is not ACKed: its panel resends it.
        """
        self._stopping = True
        await self._supervision.stop()
        if self._idle_watch is not None:
            self._idle_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle_watch
        if self._tcp_server is not None:
            self._tcp_server.close()
        for conn in list(self._connections):
            if not conn.busy:
                conn.close()  # waiting for bytes: nothing to finish
        await self._batcher.drain(STOP_GRACE_S)  # every held frame answered, or cut off
        if self._datagrams:
            _, late = await asyncio.wait(self._datagrams, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._datagrams, return_exceptions=True)
        for conn in list(self._connections):
            conn.close(abort=conn.unsent)  # answered, or cut off (its panel resends); one not read: dropped
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        if self._udp_transport is not None:
            self._udp_transport.close()
        log.info("sia receiver stopped")

    # -- one frame -----------------------------------------------------------------------

    async def handle_frame(self, data: bytes, *, peer: str = "") -> bytes | None:
        """Answer one frame as the module's table says (UDP datagrams come here; a TCP
        connection uses :meth:`judge`, :meth:`hold` and :meth:`answer` from its callbacks).

        Args:
            data: one frame, with or without LF/CR.
            peer: the sender, for logs.

        Returns:
            The reply to send, or None when none is due. Never raises (a failure is logged
            and answered with nothing, so the panel resends).
        """
        verdict = self.judge(data, peer)
        if not isinstance(verdict, _Held):
            return verdict
        try:
            await self._batcher.submit(verdict.events, verdict.account.actor, verdict.raw)
        except Exception as exc:  # noqa: BLE001 - answered (or logged) as the table says
            return self.answer(verdict, exc)
        return self.answer(verdict, None)

    def judge(self, data: bytes, peer: str) -> bytes | _Held | None:
        """The answer to one frame now, or the frame held until its events are stored.

        Never raises: a failure is logged and answered with nothing (the panel resends).
        """
        self.metrics.frames += 1
        try:
            return self._decide(data, peer)
        except Exception as exc:  # noqa: BLE001 - counted and logged; the panel resends
            self._failed("sia frame handling failed; not acknowledged", exc, {"peer": peer})
            return None

    def hold(self, held: _Held, done: Done) -> None:
        """Hand a held frame's events to ``accept`` (batched); ``done`` is told how it went."""
        self._batcher.add(held.events, held.account.actor, held.raw, done)

    def answer(self, held: _Held, error: BaseException | None) -> bytes | None:
        """A held frame's answer, once ``accept`` returned (``error`` None) or raised ``error``.

        Never raises: a failure of ``accept`` other than a refusal or an overload, or of the
        answer itself, is logged and answered with nothing.
        """
        try:
            return self._answer(held, error)
        except Exception as exc:  # noqa: BLE001 - counted and logged; the panel resends
            self._failed("sia frame answer failed; not acknowledged", exc, _context(held.peer, held.frame))
            return None

    def _answer(self, held: _Held, error: BaseException | None) -> bytes | None:
        frame = held.frame
        if error is None:
            self.metrics.events += len(held.events)
            return self._ack(frame, held.account)
        if isinstance(error, StoreUnavailable):
            self.metrics.unanswered += 1
            ctx = {**_context(held.peer, frame), "error": error.detail}
            log.warning("sia frame not acknowledged: store unavailable", extra=ctx)
            return None
        if isinstance(error, IngestError):
            return self._duh(frame, self._clock(), f"refused: {error.detail}", _context(held.peer, frame))
        self._failed("sia frame handling failed; not acknowledged", error, _context(held.peer, frame))
        return None

    def _failed(self, message: str, error: BaseException, ctx: dict[str, Any]) -> None:
        """Count and log a frame that goes unanswered because something failed (the panel resends it)."""
        self.metrics.errors += 1
        self.metrics.unanswered += 1
        log.error(message, exc_info=error, extra=ctx)

    def _key_for(self, account: str | None) -> bytes | None:
        found = self._accounts.get(account.upper()) if account else None
        return found.key if found is not None else None

    def _decide(self, data: bytes, peer: str) -> bytes | _Held | None:
        now = self._clock()
        try:
            frame = parse_frame(data, key=self._key_for)
        except SiaKeyRequired as exc:
            known = exc.frame is not None and (exc.frame.account or "").upper() in self._accounts
            if not known:
                self.metrics.unknown_accounts += 1
            reason = "encrypted, but the account has no key" if known else "encrypted, from an unknown account"
            return self._nak(now, reason, _context(peer, exc.frame), exc.frame)
        except SiaDecodeError as exc:
            return self._nak(now, exc.detail, _context(peer, exc.frame), exc.frame)
        if not frame.valid:
            reason = "CRC mismatch" if not frame.crc_ok else "length mismatch"
            return self._nak(now, reason, _context(peer, frame), frame)
        account = self._accounts.get((frame.effective_account or "").upper())
        if account is None:
            self.metrics.unknown_accounts += 1
            return self._nak(now, "account not configured", _context(peer, frame), frame)
        if account.key is not None and not frame.encrypted:
            return self._nak(now, "clear frame from an account that must encrypt", _context(peer, frame), frame)
        checked = frame.encrypted or frame.timestamp_text is not None
        if checked and not timestamp_ok(frame.timestamp, now, before_s=account.before, after_s=account.after):
            ctx = {**_context(peer, frame), "timestamp": frame.timestamp_text}
            return self._nak(now, "timestamp outside the window", ctx, frame)
        self._heard(account)
        token = frame.token.upper()
        if token in _LINK_TESTS:
            return self._ack(frame, account)
        if token not in _EVENT_TOKENS:
            return self._duh(frame, now, "token not processed", _context(peer, frame))
        try:
            events = frame_events(frame, account.id, account.site, now)
        except Unprocessable as exc:
            return self._duh(frame, now, str(exc), _context(peer, frame))
        return _Held(frame, account, events, decode_text(frame.raw.rstrip(b"\x00")), peer)

    def _ack(self, frame: SiaFrame, account: _Account) -> bytes:
        self.metrics.acks += 1
        return build_ack(frame, key=account.key, now=self._clock())

    def _nak(self, now: datetime, reason: str, ctx: dict[str, Any], frame: SiaFrame | None) -> bytes:
        self.metrics.naks += 1
        log.warning("sia frame NAKed", extra={**ctx, "reason": reason})
        return build_nak(now, binary_crc=frame.binary_crc if frame is not None else False)

    def _duh(self, frame: SiaFrame, now: datetime, reason: str, ctx: dict[str, Any]) -> bytes:
        self.metrics.duhs += 1
        log.warning("sia frame answered DUH", extra={**ctx, "reason": reason})
        return build_duh(frame, now=now)

    # -- line supervision ----------------------------------------------------------------

    def _heard(self, account: _Account) -> None:
        self._supervision.heard(account.id)  # a no-op for an account without supervision

    def _supervision_failed(self, _account: str) -> None:
        self.metrics.supervision_failures += 1

    async def _send_supervision(self, events: list[EventIn]) -> None:
        await self._accept(events, _SUPERVISION_ACTOR, raw=[None] * len(events))
        self.metrics.events += len(events)

    async def check_supervision(self) -> None:
        """Declare silent accounts failed and store the supervision events not yet stored.

        The background task runs this every ``supervision_tick_s`` and when an account comes
        back; a test may call it after moving the monotonic clock. Never raises.
        """
        await self._supervision.check()

    # -- transports ----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    def admit(self, conn: PanelConnection[_Held]) -> bool:
        """Count a new TCP connection in, or refuse it (stopping, or ``max_connections`` open)."""
        if self._stopping or len(self._connections) >= self.config.max_connections:
            self.metrics.rejected_connections += 1
            log.warning("sia connection refused", extra={"peer": conn.peer, "limit": self.config.max_connections})
            return False
        self._connections.add(conn)
        self.metrics.connections += 1
        return True

    def release(self, conn: PanelConnection[_Held]) -> None:
        self._connections.discard(conn)

    async def _close_idle(self) -> None:
        """Close each connection idle, not reading its answers, or stuck closing for longer
        than ``idle_timeout_s`` (:meth:`.sia_tcp.PanelConnection.expire`).

        One sweep for all connections rather than a timeout around each read: arming and
        cancelling a timer per read cost about a tenth of the receiver's time per frame
        (``bench/sia.py``). A connection is closed at most a quarter of the timeout (and at
        most a second) late; one in the middle of answering is never idle.
        """
        idle = self.config.idle_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, idle / 4))
            deadline = loop.time() - idle
            for conn in list(self._connections):
                why = conn.expire(deadline)
                if why is not None:
                    log.info(f"sia connection {why}, closing", extra={"peer": conn.peer, "idle_s": idle})

    def discarded(self, peer: str, reason: str, count: int) -> None:
        self.metrics.junk_bytes += count
        level = logging.WARNING if reason == "oversize" else logging.DEBUG
        log.log(level, "sia bytes discarded", extra={"peer": peer, "reason": reason, "bytes": count})

    def _datagram(self, data: bytes, addr: Any, transport: asyncio.DatagramTransport) -> None:
        if self._stopping or len(self._datagrams) >= self.config.max_connections:
            self.metrics.dropped_datagrams += 1
            return
        task = asyncio.get_running_loop().create_task(self._serve_datagram(data, addr, transport))
        self._datagrams.add(task)
        task.add_done_callback(self._datagrams.discard)

    async def _serve_datagram(self, data: bytes, addr: Any, transport: asyncio.DatagramTransport) -> None:
        reply = await self.handle_frame(data, peer=peer_text(addr))
        if reply is not None and not transport.is_closing():
            transport.sendto(reply, addr)
