"""The SIA receiver in a process of its own: the same answers, over the link to the engine.

These start real child processes (``python -m tocsin.ingest.sia_process``) and talk to them
over loopback TCP, with a fake ingest door in the test's process standing in for the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from tests.unit.ingest._polling import eventually
from tocsin.errors import ConfigError, GuardRefusal, StoreUnavailable
from tocsin.ingest import sia_link, sia_process
from tocsin.ingest.sia import SiaAccount, SiaConfig
from tocsin.ingest.sia_codec import format_timestamp, parse_frame
from tocsin.ingest.sia_framing import encode_frame
from tocsin.ingest.supervision import EPISODE_MARK, Outages
from tocsin.model import Actor, EventIn

ACCOUNT = "1234"
REFUSED = "9999"
UNAVAILABLE = "8888"


class FakeEngine:
    """The parent's ingest door: records what arrives; refuses or fails by account."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[EventIn], Actor, list[str | None]]] = []
        self.reloads = 0
        self.judged: list[bool] = []
        """``judged`` of each batch through :meth:`accept_journaled`."""

    async def accept(
        self, items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None
    ) -> object:
        if any(e.source == f"sia:{REFUSED}" for e in items):
            raise GuardRefusal("refused by the guard")
        if any(e.source == f"sia:{UNAVAILABLE}" for e in items):
            raise StoreUnavailable("writer queue is full")
        self.calls.append((list(items), actor, list(raw or [])))
        return [(n, None) for n in range(len(items))]

    async def accept_journaled(
        self, items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None, judged: bool
    ) -> object:
        self.judged.append(judged)
        return await self.accept(items, actor, raw=raw)

    async def reload(self) -> Outages:
        self.reloads += 1
        return {}

    @property
    def events(self) -> list[EventIn]:
        return [e for events, _, _ in self.calls for e in events]


def config(*accounts: SiaAccount, udp: bool = False) -> SiaConfig:
    accounts = accounts or (SiaAccount(id=ACCOUNT, site="depot"), SiaAccount(id=REFUSED), SiaAccount(id=UNAVAILABLE))
    return SiaConfig(tcp="127.0.0.1:0", udp="127.0.0.1:0" if udp else None, account=list(accounts))


def alarm(account: str, seq: int) -> bytes:
    stamp = format_timestamp(datetime.now(UTC))
    return encode_frame(f'"SIA-DCS"{seq:04d}R1L0#{account}[#{account}|Nri1/BA{seq:03d}]_{stamp}'.encode())


async def exchange(addr: tuple[str, int] | None, *frames: bytes, timeout: float = 5.0) -> list[bytes]:
    assert addr is not None
    reader, writer = await asyncio.open_connection(*addr)
    replies = []
    try:
        for data in frames:
            writer.write(data)
            replies.append(await asyncio.wait_for(reader.readuntil(b"\r"), timeout))
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return replies


@contextlib.asynccontextmanager
async def running(
    engine: FakeEngine, conf: SiaConfig | None = None, outages: Outages | None = None
) -> AsyncIterator[sia_process.SiaProcess]:
    """A started receiver process in front of ``engine``; stopped on the way out."""
    receiver = sia_process.SiaProcess(conf or config(), engine.accept, reload_outages=engine.reload)
    await receiver.start(outages)
    try:
        yield receiver
    finally:
        await receiver.stop()


def token_and_seq(reply: bytes) -> tuple[str, str, bool]:
    parsed = parse_frame(reply)
    return parsed.token, parsed.sequence, parsed.valid


def test_frames_are_stored_through_the_parent_before_the_ack() -> None:
    engine = FakeEngine()

    async def main() -> None:
        async with running(engine, config(udp=True)) as receiver:
            assert receiver.pid is not None and receiver.pid != os.getpid()
            replies = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1), alarm(ACCOUNT, 2))
            assert [token_and_seq(r) for r in replies] == [("ACK", "0001", True), ("ACK", "0002", True)]
            assert len(engine.events) == 2  # both stored before their ACKs were written
            loop = asyncio.get_running_loop()
            udp_reply: asyncio.Future[bytes] = loop.create_future()

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: object) -> None:
                    udp_reply.set_result(data)

            transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=receiver.bound_udp)
            transport.sendto(alarm(ACCOUNT, 3))
            assert token_and_seq(await asyncio.wait_for(udp_reply, 5)) == ("ACK", "0003", True)
            transport.close()
        first = engine.events[0]
        assert (first.type, first.source, first.site, first.attributes["zone"]) == (
            "intrusion.burglary",
            f"sia:{ACCOUNT}",
            "depot",
            "001",
        )
        assert engine.calls[0][1] == Actor(name=f"sia:{ACCOUNT}", role="device")
        raw = engine.calls[0][2][0]
        assert raw is not None and f"#{ACCOUNT}|Nri1/BA001" in raw
        assert (receiver.metrics.frames, receiver.metrics.acks, receiver.metrics.events) == (3, 3, 3)

    asyncio.run(main())


def test_a_refusal_is_a_duh_and_an_unavailable_store_is_silence() -> None:
    engine = FakeEngine()

    async def main() -> None:
        async with running(engine) as receiver:
            (duh,) = await exchange(receiver.bound_tcp, alarm(REFUSED, 7))
            assert token_and_seq(duh) == ("DUH", "0007", True)
            with pytest.raises(TimeoutError):
                await exchange(receiver.bound_tcp, alarm(UNAVAILABLE, 8), timeout=1.0)
            (ack,) = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 9))  # the link still works
            assert token_and_seq(ack) == ("ACK", "0009", True)
        assert [e.source for e in engine.events] == [f"sia:{ACCOUNT}"]
        assert (receiver.metrics.duhs, receiver.metrics.unanswered, receiver.metrics.acks) == (1, 1, 1)

    asyncio.run(main())


def journaled(tmp_path: Path) -> SiaConfig:
    return msgspec.structs.replace(config(), journal_dir=str(tmp_path / "journal"))


def segments(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "journal").glob("*.journal"))


def test_with_a_journal_the_ack_waits_for_the_journal_not_the_engine(tmp_path: Path) -> None:
    engine = FakeEngine()

    async def main() -> None:
        gate = asyncio.Event()

        async def held(items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None) -> object:
            await gate.wait()
            return await engine.accept(items, actor, raw=raw)

        receiver = sia_process.SiaProcess(journaled(tmp_path), held, reload_outages=engine.reload)
        await receiver.start()
        try:
            replies = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1), alarm(ACCOUNT, 2), alarm(REFUSED, 3))
            assert [token_and_seq(r) for r in replies] == [
                ("ACK", "0001", True),
                ("ACK", "0002", True),
                ("ACK", "0003", True),
            ]
            assert engine.events == [] and len(segments(tmp_path)) == 1  # ACKed from the journal alone
            assert await eventually(lambda: receiver.journal_pending == 3, 3 * sia_process.COUNTERS_INTERVAL_S)
            gate.set()
            assert await eventually(lambda: len(engine.events) == 2)
            assert await eventually(lambda: receiver.journal_pending == 0, 3 * sia_process.COUNTERS_INTERVAL_S)
        finally:
            await receiver.stop()
        assert [e.attributes["sequence"] for e in engine.events] == ["0001", "0002"]
        # The engine refused account 9999's alarm (here: by account; in tocsin only the guard
        # refuses, and the receiver asks the guard before it journals): logged, not retried.
        assert segments(tmp_path) == []  # every entry confirmed: the journal is empty after a stop
        assert (receiver.metrics.acks, receiver.metrics.journaled, receiver.metrics.replayed) == (3, 3, 0)

    asyncio.run(main())


def test_journaled_alarms_outlive_an_engine_that_cannot_store_them(tmp_path: Path) -> None:
    """ACKed while the engine is unavailable, still in the journal when that receiver stops,
    and handed over, in order, by the next receiver process on the same journal."""
    engine = FakeEngine()
    refusals: list[int] = []
    second_tries: list[int] = []

    async def unavailable(
        items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None
    ) -> object:
        refusals.append(len(items))
        raise StoreUnavailable("writer queue is full")

    async def once_unavailable(
        items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None
    ) -> object:
        second_tries.append(len(items))
        if len(second_tries) == 1:
            raise StoreUnavailable("writer queue is full")
        return await engine.accept(items, actor, raw=raw)

    async def main() -> None:
        first = sia_process.SiaProcess(journaled(tmp_path), unavailable, reload_outages=engine.reload)
        await first.start()
        try:
            replies = await exchange(first.bound_tcp, alarm(ACCOUNT, 1), alarm(ACCOUNT, 2))
            assert [token_and_seq(r)[0] for r in replies] == ["ACK", "ACK"]
            assert await eventually(lambda: len(refusals) >= 1)
        finally:
            await first.stop()
        assert engine.events == [] and segments(tmp_path)

        second = sia_process.SiaProcess(journaled(tmp_path), once_unavailable, reload_outages=engine.reload)
        await second.start()
        try:
            assert await eventually(lambda: len(engine.events) == 2, 5 + sia_process.RETRY_S)
        finally:
            await second.stop()
        assert [e.attributes["sequence"] for e in engine.events] == ["0001", "0002"]
        assert second_tries == [2, 2]  # both entries in one batch: refused, retried, stored
        assert segments(tmp_path) == []
        assert (second.metrics.replayed, second.metrics.frames) == (2, 0)

    asyncio.run(main())


def test_entries_replayed_from_an_earlier_process_are_judged_by_the_engine(tmp_path: Path) -> None:
    """Only what this receiver process journaled went past its guard: entries an earlier
    process left in the journal (perhaps an older tocsin) go up with ``judged`` False, so the
    engine's guard decides on them; what the new process journals goes up judged."""
    door = FakeEngine()

    async def unavailable(
        items: Sequence[EventIn], actor: Actor, /, *, raw: Sequence[str | None] | None = None, judged: bool
    ) -> object:
        raise StoreUnavailable("writer queue is full")

    async def main() -> None:
        first = sia_process.SiaProcess(
            journaled(tmp_path), door.accept, accept_journaled=unavailable, reload_outages=door.reload
        )
        await first.start()
        try:
            replies = await exchange(first.bound_tcp, alarm(ACCOUNT, 1))
            assert [token_and_seq(r)[0] for r in replies] == ["ACK"]
        finally:
            await first.stop()
        assert segments(tmp_path)  # left for the next process

        second = sia_process.SiaProcess(
            journaled(tmp_path), door.accept, accept_journaled=door.accept_journaled, reload_outages=door.reload
        )
        await second.start()
        try:
            assert await eventually(lambda: len(door.events) == 1)
            (ack,) = await exchange(second.bound_tcp, alarm(ACCOUNT, 2))
            assert token_and_seq(ack)[0] == "ACK"
            assert await eventually(lambda: len(door.events) == 2)
        finally:
            await second.stop()
        assert [e.attributes["sequence"] for e in door.events] == ["0001", "0002"]
        assert door.judged == [False, True]

    asyncio.run(main())


def test_a_journal_needs_a_process_of_its_own(tmp_path: Path) -> None:
    conf = msgspec.structs.replace(journaled(tmp_path), own_process=False)
    with pytest.raises(ConfigError, match="own_process"):
        sia_process.SiaProcess(conf, FakeEngine().accept, reload_outages=FakeEngine().reload)


def test_without_a_journal_the_ack_waits_for_the_engine(tmp_path: Path) -> None:
    engine = FakeEngine()

    async def main() -> None:
        conf = msgspec.structs.replace(journaled(tmp_path), journal=False)
        receiver = sia_process.SiaProcess(conf, engine.accept, reload_outages=engine.reload)
        await receiver.start()
        try:
            (ack,) = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1))
            assert token_and_seq(ack)[0] == "ACK"
            assert len(engine.events) == 1  # stored before the ACK left
        finally:
            await receiver.stop()
        assert not (tmp_path / "journal").exists()
        assert receiver.metrics.journaled == 0

    asyncio.run(main())


@pytest.mark.parametrize("journal", [True, False])
def test_journaled_batches_take_their_own_door_and_a_waiting_panels_the_urgent_one(
    tmp_path: Path, journal: bool
) -> None:
    """ACKed from the journal, a batch goes to ``accept_journaled`` (urgent, no panel waits on
    its commit), marked judged by the receiver's guard; a panel waiting for the engine's commit
    goes through ``accept``."""
    waiting, journaled_door = FakeEngine(), FakeEngine()

    async def main() -> None:
        conf = msgspec.structs.replace(journaled(tmp_path), journal=journal)
        receiver = sia_process.SiaProcess(
            conf, waiting.accept, accept_journaled=journaled_door.accept_journaled, reload_outages=waiting.reload
        )
        await receiver.start()
        try:
            replies = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1), alarm(ACCOUNT, 2))
            assert [token_and_seq(r)[0] for r in replies] == ["ACK", "ACK"]
            used, unused = (journaled_door, waiting) if journal else (waiting, journaled_door)
            assert await eventually(lambda: len(used.events) == 2)
        finally:
            await receiver.stop()
        assert unused.events == []
        if journal:
            assert journaled_door.judged and all(journaled_door.judged)
        else:
            assert journaled_door.judged == []

    asyncio.run(main())


def test_counters_travel_up_while_the_child_runs() -> None:
    engine = FakeEngine()

    async def main() -> None:
        async with running(engine) as receiver:
            await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1))
            await eventually(lambda: receiver.metrics.acks >= 1, 5 * sia_process.COUNTERS_INTERVAL_S)
            assert (receiver.metrics.frames, receiver.metrics.acks, receiver.metrics.connections) == (1, 1, 1)

    asyncio.run(main())


def test_a_child_that_dies_is_replaced_on_the_same_port_and_its_counters_kept() -> None:
    engine = FakeEngine()

    async def main() -> None:
        async with running(engine) as receiver:
            addr = receiver.bound_tcp
            await exchange(addr, alarm(ACCOUNT, 1))
            await asyncio.sleep(1.5 * sia_process.COUNTERS_INTERVAL_S)  # its counters reached us
            first = receiver.pid
            assert first is not None

            assert receiver.serving
            os.kill(first, signal.SIGKILL)
            assert await eventually(lambda: not receiver.serving)  # what /healthz reports meanwhile
            # The listening socket stays open in this process: the panel's connection waits
            # in the kernel's queue until the new child accepts it.
            (ack,) = await exchange(addr, alarm(ACCOUNT, 2), timeout=10 + sia_process.RESTART_DELAY_S)
            assert token_and_seq(ack) == ("ACK", "0002", True)
            assert receiver.restarts == 1 and receiver.pid not in (None, first)
            assert await eventually(lambda: receiver.serving, 0)
            assert engine.reloads == 1  # the new child resumes the outages open now
        assert receiver.metrics.acks == 2

    asyncio.run(main())


def test_an_outage_open_at_start_is_cleared_through_the_link() -> None:
    engine = FakeEngine()
    began = datetime.now(UTC) - timedelta(hours=1)
    account = SiaAccount(id=ACCOUNT, site="depot", supervision_s=60)

    async def main() -> None:
        async with running(engine, config(account), {f"sia:{ACCOUNT}": began}) as receiver:
            (ack,) = await exchange(receiver.bound_tcp, alarm(ACCOUNT, 1))
            assert token_and_seq(ack)[0] == "ACK"
            await eventually(lambda: len(engine.events) >= 2)
        cleared = [e for e in engine.events if e.type == "tech.comm_failure"]
        assert len(cleared) == 1
        assert cleared[0].condition == "cleared" and cleared[0].source == f"sia:{ACCOUNT}"
        assert cleared[0].external_id is not None and EPISODE_MARK in cleared[0].external_id
        assert str(int(began.timestamp())) in cleared[0].external_id  # the same episode as before

    asyncio.run(main())


def test_an_address_in_use_is_a_config_error_and_no_child_is_left() -> None:
    engine = FakeEngine()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        conf = SiaConfig(tcp=f"127.0.0.1:{port}", account=[SiaAccount(id=ACCOUNT)])
        receiver = sia_process.SiaProcess(conf, engine.accept, reload_outages=engine.reload)
        with pytest.raises(ConfigError, match="cannot listen"):
            asyncio.run(receiver.start())
        assert receiver.pid is None


def test_a_bad_account_is_refused_before_any_child_starts() -> None:
    engine = FakeEngine()
    twice = SiaConfig(tcp="127.0.0.1:0", account=[SiaAccount(id=ACCOUNT), SiaAccount(id=ACCOUNT)])
    with pytest.raises(ConfigError, match="configured twice"):
        sia_process.SiaProcess(twice, engine.accept, reload_outages=engine.reload)


def test_the_child_exits_when_its_parent_goes_away() -> None:
    """A server killed with -9 must not leave a receiver ACKing panels with nothing behind it."""
    ours, theirs = socket.socketpair()
    with ours:
        child = subprocess.Popen(
            [sys.executable, "-m", "tocsin.ingest.sia_process", str(theirs.fileno()), "-", "-"],
            pass_fds=[theirs.fileno()],
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        try:
            start = sia_link.Start(config(), {}, "WARNING")
            ours.sendall(sia_link.encode_message(start))
            ours.settimeout(10)
            header = ours.recv(4)
            (size,) = sia_link._LENGTH.unpack(header)
            assert isinstance(sia_link.FROM_CHILD.decode(ours.recv(size)), sia_link.Ready)
        except BaseException:
            child.kill()
            raise
    try:
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("own_process", [True, False])
def test_the_runtime_runs_the_receiver_where_the_config_says(tmp_path: Path, own_process: bool) -> None:
    from tocsin.app import Runtime
    from tocsin.config import load_settings
    from tocsin.ingest.sia import SiaReceiver

    settings = load_settings(None, db=str(tmp_path / "t.db"))
    conf = msgspec.structs.replace(config(), own_process=own_process)

    async def main() -> None:
        runtime = Runtime(msgspec.structs.replace(settings, sia=conf))
        await runtime.start()
        try:
            assert isinstance(runtime.sia, sia_process.SiaProcess if own_process else SiaReceiver)
            assert runtime.sia is not None
            (ack,) = await exchange(runtime.sia.bound_tcp, alarm(ACCOUNT, 1))
            assert token_and_seq(ack) == ("ACK", "0001", True)
        finally:
            await runtime.stop()
        journal = tmp_path / "t.db.sia-journal"  # by default next to the database, in a process of its own
        assert journal.is_dir() == own_process
        assert runtime.sia.metrics.journaled == (1 if own_process else 0)
        if own_process:
            assert not list(journal.glob("*.journal"))  # committed before the stop finished

    asyncio.run(main())


def test_the_runtime_judges_journaled_alarms_unless_the_receiver_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Runtime.accept_journaled`` runs the guard on what the receiver process did not judge
    (entries replayed from an earlier process's journal), refusing as ``accept`` does, and
    does not judge a second time what the receiver's guard passed just before journaling."""
    from tocsin import app
    from tocsin.config import load_settings
    from tocsin.engine.policy import check_events as guard

    judged_here: list[int] = []

    def counting(items: Sequence[EventIn]) -> object:
        judged_here.append(len(items))
        return guard(items)

    monkeypatch.setattr(app, "check_events", counting)
    device = Actor(name=f"sia:{ACCOUNT}", role="device")

    def event(kind: str, n: int) -> EventIn:
        return EventIn(type=kind, method="equipment", source=f"sia:{ACCOUNT}", external_id=f"{kind}-{n}")

    async def main() -> None:
        runtime = app.Runtime(load_settings(None, db=str(tmp_path / "t.db")))
        await runtime.start()
        try:
            with pytest.raises(GuardRefusal, match="protected-category guard"):
                await runtime.accept_journaled([event("protest.gathering", 1)], device, judged=False)
            assert judged_here == [1]
            stored = await runtime.accept_journaled([event("intrusion.burglary", 2)], device, judged=False)
            assert judged_here == [1, 1] and len(stored) == 1
            stored = await runtime.accept_journaled([event("intrusion.burglary", 3)], device, judged=True)
            assert judged_here == [1, 1] and len(stored) == 1  # the receiver judged it: not again
            assert runtime.metrics.guard_refusals.labels("event")._value.get() == 1
        finally:
            await runtime.stop()

    asyncio.run(main())
