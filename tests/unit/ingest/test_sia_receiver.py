"""The SIA DC-09 receiver end to end: a panel simulator over real loopback TCP and UDP.

Every reply is checked byte for byte against the codec's builders run with the same
(fixed) clock; encrypted ACKs are decrypted to recover their random pad, then rebuilt.
The ``accept`` door is a fake that records calls, deduplicates by (source, external_id)
like the store, and can be told to wait or to raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.unit.ingest._polling import eventually
from tocsin.errors import ConfigError, GuardRefusal, StoreUnavailable
from tocsin.ingest.sia import (
    SUPERVISION_GRACE_S,
    SiaAccount,
    SiaConfig,
    SiaReceiver,
    frame_external_id,
)
from tocsin.ingest.sia_batch import _MAX_INFLIGHT
from tocsin.ingest.sia_codec import (
    build_ack,
    build_duh,
    build_nak,
    encode_frame,
    encrypt_body,
    format_timestamp,
    key_from_config,
    parse_frame,
)
from tocsin.ingest.sia_tcp import PanelConnection
from tocsin.model import Actor, EventIn

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ACCOUNT = "1234"
HEX_KEY = "ABCD" * 8
ASCII_KEY = "0123456789ABCDEF"
SITE = "depot-7"


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeAccept:
    """Records calls; returns ids deduplicated by (source, external_id) like the store."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[EventIn], Actor, list[str | None]]] = []
        self.ids: dict[tuple[str, str | None], tuple[int, int | None]] = {}
        self.returned: list[list[tuple[int, int | None]]] = []
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.refuse_zone: str | None = None
        self.changed = asyncio.Event()

    async def __call__(
        self, events: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> list[tuple[int, int | None]]:
        self.calls.append((list(events), actor, list(raw or [])))
        self.changed.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if self.refuse_zone is not None and any(e.attributes.get("zone") == self.refuse_zone for e in events):
            raise GuardRefusal("refused by the protected-category guard")
        out = []
        for event in events:
            key = (event.source, event.external_id)
            if key not in self.ids:
                self.ids[key] = (len(self.ids) + 1, 500 + len(self.ids))
            out.append(self.ids[key])
        self.returned.append(out)
        return out

    @property
    def events(self) -> list[EventIn]:
        return [event for events, _, _ in self.calls for event in events]

    async def wait_calls(self, count: int, timeout: float = 1.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.calls) < count:
                self.changed.clear()
                await self.changed.wait()


def frame(
    token: str,
    seq: str,
    data: str = "",
    *,
    account: str = ACCOUNT,
    ts: datetime | None = NOW,
    key: bytes | None = None,
    head: str = "R1L0",
    xdata: str = "",
) -> bytes:
    """A panel's frame, as it travels (LF…CR); encrypted when ``key`` is given."""
    tail = f"]{xdata}" + (f"_{format_timestamp(ts)}" if ts is not None else "")
    if key is not None:
        body = f'"*{token}"{seq}{head}#{account}[' + encrypt_body(f"{data}{tail}", key)
    else:
        body = f'"{token}"{seq}{head}#{account}[{data}{tail}'
    return encode_frame(body.encode())


def expected_ack(sent: bytes, *, now: datetime = NOW) -> bytes:
    return build_ack(parse_frame(sent), key=None, now=now)


def ack_pad(reply: bytes, key: bytes) -> bytes:
    """The random pad of an encrypted ACK, so the ACK can be rebuilt byte for byte."""
    cipher_hex = reply[reply.index(b"[") + 1 : reply.rindex(b"\r")]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    plain = decryptor.update(bytes.fromhex(cipher_hex.decode())) + decryptor.finalize()
    return plain[: plain.index(b"|")]


class Panel:
    """A panel on one TCP connection: writes frames any way split, reads the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, addr: tuple[str, int] | None) -> Panel:
        assert addr is not None
        reader, writer = await asyncio.open_connection(*addr)
        panel = cls(reader, writer)
        _OPEN.append(panel)
        return panel

    async def send(self, data: bytes, *, chunk: int | None = None) -> None:
        step = chunk or len(data)
        for start in range(0, len(data), step):
            self.writer.write(data[start : start + step])
            await self.writer.drain()
            if chunk is not None:
                await asyncio.sleep(0)  # let the receiver read each piece on its own

    async def reply(self, timeout: float = 1.0) -> bytes:
        async with asyncio.timeout(timeout):
            return await self.reader.readuntil(b"\r")

    async def silent(self, seconds: float = 0.1) -> bool:
        """True if nothing arrives within ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                data = await self.reader.read(1)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected bytes from the receiver: {data!r}")

    async def close(self) -> None:
        if self in _OPEN:
            _OPEN.remove(self)
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


_OPEN: list[Panel] = []  # closed by ``running`` even when a test fails half-way


class UdpPanel(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


def accounts(**overrides: Any) -> list[SiaAccount]:
    return [
        SiaAccount(id=ACCOUNT, site=SITE, **overrides),
        SiaAccount(id="AB12", site="hq", key=HEX_KEY, key_format="hex"),
        SiaAccount(id="5678", key=ASCII_KEY, key_format="ascii"),
    ]


@contextlib.asynccontextmanager
async def running(
    store: FakeAccept,
    *,
    account: list[SiaAccount] | None = None,
    clock: FixedClock | None = None,
    monotonic: Monotonic | None = None,
    **config: Any,
) -> AsyncIterator[SiaReceiver]:
    receiver = SiaReceiver(
        SiaConfig(tcp="127.0.0.1:0", udp="127.0.0.1:0", account=account or accounts(), **config),
        store,
        clock=clock or FixedClock(),
        monotonic=monotonic or Monotonic(),
    )
    await receiver.start()
    try:
        yield receiver
    finally:
        while _OPEN:
            await _OPEN.pop().close()
        await receiver.stop()


# -- TCP framing, ACKs and the events made ---------------------------------------------------


def test_tcp_split_and_coalesced_frames_are_each_acked_in_order() -> None:
    first = frame("SIA-DCS", "0001", f"#{ACCOUNT}|Nri1/BA503^Hall^", xdata="[X093W23.456]")
    second = frame("ADM-CID", "0002", f"#{ACCOUNT}|1130 01 015")
    third = frame("NULL", "0003")

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(first, chunk=1)
            assert await panel.reply() == expected_ack(first)
            await panel.send(second + third + b"\x00\x00")
            assert await panel.reply() == expected_ack(second)
            assert await panel.reply() == expected_ack(third)
            await panel.close()
            assert receiver.metrics.acks == 3
            assert receiver.metrics.frames == 3
        burglary, cid = store.events
        assert burglary == EventIn(
            type="intrusion.burglary",
            method="equipment",
            source=f"sia:{ACCOUNT}",
            site=SITE,
            occurred_at=NOW,
            condition="active",
            description="Burglary Alarm: Hall",
            attributes={
                "account": ACCOUNT,
                "sequence": "0001",
                "receiver": "1",
                "line": "0",
                "code": "BA",
                "zone": "503",
                "area": "1",
                "text": "Hall",
            },
            external_id=frame_external_id(ACCOUNT, parse_frame(first), 0, NOW),
        )
        assert burglary.external_id is not None and burglary.external_id.startswith(f"{ACCOUNT}:0001:0:")
        assert cid.type == "intrusion.burglary"
        assert cid.attributes == {
            "account": ACCOUNT,
            "sequence": "0002",
            "receiver": "1",
            "line": "0",
            "code": "130",
            "qualifier": "1",
            "partition": "01",
            "zone": "015",
        }
        assert [actor for _, actor, _ in store.calls] == [Actor(name=f"sia:{ACCOUNT}", role="device")] * 2
        assert store.calls[0][2] == [first[1:-1].decode()]  # the frame text, never a key

    asyncio.run(main())


def test_several_events_in_one_frame_get_their_index_in_the_external_id() -> None:
    sent = frame("SIA-DCS", "0042", f"#{ACCOUNT}|Nri2/BA001/BR001|Nid7OP001")

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(sent)
            assert await panel.reply() == expected_ack(sent)
            await panel.close()
        parsed = parse_frame(sent)
        assert [(e.type, e.condition) for e in store.events] == [
            ("intrusion.burglary", "active"),
            ("intrusion.burglary", "cleared"),
            ("security.open_close", "active"),
        ]
        assert [e.external_id for e in store.events] == [frame_external_id(ACCOUNT, parsed, n, NOW) for n in range(3)]
        assert store.events[2].attributes["user"] == "001"
        assert len({e.external_id for e in store.events}) == 3

    asyncio.run(main())


def test_udp_frame_gets_its_answer_at_the_sender() -> None:
    good = frame("SIA-DCS", "0007", f"#{ACCOUNT}|Nri1/FA002")
    bad = bytearray(frame("SIA-DCS", "0008", f"#{ACCOUNT}|Nri1/FA002"))
    bad[1:5] = b"0000"  # wrong CRC

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            assert receiver.bound_udp is not None
            loop = asyncio.get_running_loop()
            transport, panel = await loop.create_datagram_endpoint(UdpPanel, remote_addr=receiver.bound_udp)
            try:
                transport.sendto(good)
                async with asyncio.timeout(1):
                    assert await panel.replies.get() == expected_ack(good)
                transport.sendto(bytes(bad))
                async with asyncio.timeout(1):
                    assert await panel.replies.get() == build_nak(NOW)
            finally:
                transport.close()
        assert [e.type for e in store.events] == ["fire.alarm"]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("account", "key_text", "key_format"), [("AB12", HEX_KEY, "hex"), ("5678", ASCII_KEY, "ascii")]
)
def test_encrypted_frames_get_an_encrypted_ack(account: str, key_text: str, key_format: Any) -> None:
    key = key_from_config(key_text, key_format)
    event = frame("SIA-DCS", "0101", f"#{account}|Nri1/PA001", account=account, key=key)
    link = frame("NULL", "0102", account=account, key=key)

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            for sent in (event, link):
                await panel.send(sent, chunk=7)
                reply = await panel.reply()
                assert reply.startswith(b"\n") and b'"*ACK"' in reply
                rebuilt = build_ack(parse_frame(sent, key=key), key=key, now=NOW, pad=ack_pad(reply, key))
                assert reply == rebuilt
                acked, request = parse_frame(reply, key=key), parse_frame(sent, key=key)
                assert (acked.token, acked.sequence, acked.account) == ("ACK", request.sequence, account)
                assert acked.timestamp == NOW
            await panel.close()
        assert [(e.type, e.source) for e in store.events] == [("panic.button", f"sia:{account}")]
        assert key_text not in (store.calls[0][2][0] or "")

    asyncio.run(main())


# -- NAK and DUH ---------------------------------------------------------------------------------


def test_stale_or_future_timestamp_gets_the_exact_nak() -> None:
    stale = frame("SIA-DCS", "0003", f"#{ACCOUNT}|Nri1/BA1", ts=NOW - timedelta(seconds=41))
    future = frame("SIA-DCS", "0004", f"#{ACCOUNT}|Nri1/BA1", ts=NOW + timedelta(seconds=21))
    edge = frame("SIA-DCS", "0005", f"#{ACCOUNT}|Nri1/BA1", ts=NOW + timedelta(seconds=20))
    nak = b'"NAK"0000R0L0A0[]_07:08:09,05-06-2024'
    assert build_nak(NOW) == encode_frame(nak)

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(stale + future + edge)
            assert await panel.reply() == encode_frame(nak)
            assert await panel.reply() == encode_frame(nak)
            assert await panel.reply() == expected_ack(edge)
            await panel.close()
            assert receiver.metrics.naks == 2
        assert len(store.calls) == 1

    asyncio.run(main())


def test_bad_crc_bad_length_and_garbage_get_a_nak() -> None:
    good = frame("SIA-DCS", "0009", f"#{ACCOUNT}|Nri1/BA1")
    bad_crc = b"\n0000" + good[5:]
    bad_length = good[:5] + b"0FFF" + good[9:]

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(bad_crc + bad_length + b"\nnot a frame at all\r" + good)
            for _ in range(3):
                assert await panel.reply() == build_nak(NOW)
            assert await panel.reply() == expected_ack(good)
            await panel.close()
        assert len(store.calls) == 1

    asyncio.run(main())


def test_unknown_account_and_clear_frame_from_a_keyed_account_get_a_nak() -> None:
    unknown_clear = frame("SIA-DCS", "0001", "#9999|Nri1/BA1", account="9999")
    unknown_encrypted = frame("NULL", "0002", account="9999", key=key_from_config(HEX_KEY, "hex"))
    clear_for_keyed = frame("SIA-DCS", "0003", "#AB12|Nri1/BA1", account="AB12")

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(unknown_clear + unknown_encrypted + clear_for_keyed)
            for _ in range(3):
                assert await panel.reply() == build_nak(NOW)
            await panel.close()
            assert receiver.metrics.unknown_accounts == 2
        assert store.calls == []

    asyncio.run(main())


def test_unknown_token_gets_duh_and_unknown_codes_are_stored_and_acked() -> None:
    pulse = frame("SIA-PUL", "0011", f"#{ACCOUNT}|12")
    unknown_sia = frame("SIA-DCS", "0012", f"#{ACCOUNT}|Nri1/QZ12^Shed^")
    unknown_cid = frame("ADM-CID", "0013", f"#{ACCOUNT}|3999 00 004")
    unreadable_cid = frame("ADM-CID", "0014", f"#{ACCOUNT}|hello")

    async def main() -> None:
        store = FakeAccept()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(pulse + unknown_sia + unknown_cid + unreadable_cid)
            assert await panel.reply() == build_duh(parse_frame(pulse), now=NOW)
            assert await panel.reply() == expected_ack(unknown_sia)
            assert await panel.reply() == expected_ack(unknown_cid)
            assert await panel.reply() == build_duh(parse_frame(unreadable_cid), now=NOW)
            await panel.close()
            assert receiver.metrics.duhs == 2
        sia, cid = store.events
        assert (sia.type, sia.condition, sia.description) == ("sia.QZ", "active", "Shed")
        assert (sia.attributes["address"], sia.attributes["text"]) == ("12", "Shed")
        assert (cid.type, cid.condition, cid.attributes["zone"]) == ("cid.999", "cleared", "004")

    asyncio.run(main())


# -- the ACK waits for the store -------------------------------------------------------------------


def test_ack_is_sent_only_after_accept_returned() -> None:
    sent = frame("SIA-DCS", "0020", f"#{ACCOUNT}|Nri1/FA9")

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(sent)
            await store.wait_calls(1)
            assert await panel.silent(0.15)
            store.gate.set()
            assert await panel.reply() == expected_ack(sent)
            await panel.close()

    asyncio.run(main())


def test_store_unavailable_gets_no_answer_and_the_resend_is_acked_with_the_same_ids() -> None:
    sent = frame("SIA-DCS", "0030", f"#{ACCOUNT}|Nri1/BA7")

    async def main() -> None:
        store = FakeAccept()
        store.fail = StoreUnavailable("busy")
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(sent)
            await store.wait_calls(1)
            assert await panel.silent(0.1)
            assert receiver.metrics.unanswered == 1
            store.fail = None
            await panel.send(sent)  # the panel resends: same sequence
            assert await panel.reply() == expected_ack(sent)
            await panel.send(sent)  # ACK lost, resent again: stored once (the store's job)
            assert await panel.reply() == expected_ack(sent)
            await panel.close()
        ids = [event.external_id for event in store.events]
        assert len(ids) == 3 and len(set(ids)) == 1
        assert store.returned == [[(1, 500)], [(1, 500)]]

    asyncio.run(main())


def test_refused_events_get_duh_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    sent = frame("SIA-DCS", "0040", f"#{ACCOUNT}|Nri1/BA7")

    async def main() -> None:
        store = FakeAccept()
        store.fail = GuardRefusal("refused by the protected-category guard")
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(sent)
            assert await panel.reply() == build_duh(parse_frame(sent), now=NOW)
            await panel.close()

    with caplog.at_level(logging.WARNING, logger="tocsin.ingest.sia"):
        asyncio.run(main())
    duh = [r for r in caplog.records if r.getMessage() == "sia frame answered DUH"]
    assert len(duh) == 1 and duh[0].__dict__["account"] == ACCOUNT and duh[0].__dict__["seq"] == "0040"


def test_a_failing_frame_is_logged_and_the_connection_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    first = frame("SIA-DCS", "0050", f"#{ACCOUNT}|Nri1/BA7")
    second = frame("SIA-DCS", "0051", f"#{ACCOUNT}|Nri1/BA8")

    async def main() -> None:
        store = FakeAccept()
        store.fail = RuntimeError("bug")
        async with running(store) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(first)
            await store.wait_calls(1)
            assert await panel.silent(0.1)
            store.fail = None
            await panel.send(second)
            assert await panel.reply() == expected_ack(second)
            await panel.close()
            assert receiver.metrics.errors == 1

    with caplog.at_level(logging.ERROR, logger="tocsin.ingest.sia"):
        asyncio.run(main())
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "tocsin.ingest.sia"]
    assert record.__dict__["seq"] == "0050" and record.exc_info is not None


def test_frames_arriving_together_share_one_accept_call_and_a_refusal_stays_with_its_frame() -> None:
    alone = [str(2001 + i) for i in range(_MAX_INFLIGHT)]  # each takes a free slot, at once
    queued = ["3001", "3002", "3003"]
    ids = alone + queued
    zones = ["001"] * len(alone) + ["002", "666", "009"]
    frames = [frame("SIA-DCS", "0001", f"#{a}|Nri1/BA{z}", account=a) for a, z in zip(ids, zones, strict=True)]

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        store.refuse_zone = "666"
        async with running(store, account=[SiaAccount(id=acct) for acct in ids]) as receiver:
            panels = [await Panel.connect(receiver.bound_tcp) for _ in ids]
            for n, (panel, sent) in enumerate(zip(panels[: len(alone)], frames, strict=False), start=1):
                await panel.send(sent)  # nothing else waiting: goes alone, at once
                await store.wait_calls(n)
            for panel, sent in zip(panels[len(alone) :], frames[len(alone) :], strict=True):
                await panel.send(sent)
            await asyncio.sleep(0.05)  # all three read and queued behind the calls in flight
            assert len(store.calls) == len(alone)
            store.gate.set()
            for panel, sent in zip(panels, frames, strict=True):
                refused = "666" in sent.decode()
                assert await panel.reply() == (build_duh(parse_frame(sent), now=NOW) if refused else expected_ack(sent))
            for panel in panels:
                await panel.close()
        calls = [([e.source for e in events], actor.name) for events, actor, _ in store.calls]
        assert calls == [
            *[([f"sia:{a}"], f"sia:{a}") for a in alone],
            ([f"sia:{a}" for a in queued], "sia:receiver"),  # refused as a whole...
            *[([f"sia:{a}"], f"sia:{a}") for a in queued],  # ...so each frame is tried alone
        ]

    asyncio.run(main())


def test_max_batch_events_one_calls_accept_per_frame() -> None:
    ids = ["2001", "2002", "2003"]
    frames = [frame("SIA-DCS", "0001", f"#{acct}|Nri1/BA1", account=acct) for acct in ids]

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        async with running(store, account=[SiaAccount(id=acct) for acct in ids], max_batch_events=1) as receiver:
            panels = [await Panel.connect(receiver.bound_tcp) for _ in ids]
            for panel, sent in zip(panels, frames, strict=True):
                await panel.send(sent)
            await store.wait_calls(3)
            store.gate.set()
            for panel, sent in zip(panels, frames, strict=True):
                assert await panel.reply() == expected_ack(sent)
                await panel.close()
        assert [actor.name for _, actor, _ in store.calls] == [f"sia:{acct}" for acct in ids]

    asyncio.run(main())


# -- line supervision --------------------------------------------------------------------------------


def test_silent_account_raises_comm_failure_and_clears_when_it_reports_again() -> None:
    link = frame("NULL", "0060")
    mono = Monotonic()
    episode = f"{ACCOUNT}:supervision:{int(NOW.timestamp())}"

    async def main() -> None:
        store = FakeAccept()
        async with running(store, account=accounts(supervision_s=30), monotonic=mono) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            mono.t += 30
            await panel.send(link)
            assert await panel.reply() == expected_ack(link)  # link test pushes the deadline
            mono.t += 30 + SUPERVISION_GRACE_S - 1
            await receiver.check_supervision()
            assert store.calls == []
            mono.t += 2
            store.fail = StoreUnavailable("busy")
            await receiver.check_supervision()  # raised, but the store is busy: retried next tick
            store.fail = None
            await receiver.check_supervision()
            await receiver.check_supervision()  # already stored: not again
            assert [e.external_id for e in store.events] == [f"{episode}:active"] * 2
            assert receiver.metrics.supervision_failures == 1
            await panel.send(link)
            assert await panel.reply() == expected_ack(link)
            await store.wait_calls(3)  # the cleared event goes out at once, not at a tick
            await panel.close()
        down, up = store.events[1:]
        for event, condition in ((down, "active"), (up, "cleared")):
            assert (event.type, event.condition, event.source, event.site, event.method) == (
                "tech.comm_failure",
                condition,
                f"sia:{ACCOUNT}",
                SITE,
                "equipment",
            )
            assert event.external_id == f"{episode}:{condition}"
        assert store.calls[-1][1] == Actor(name="sia:supervision", role="device")

    asyncio.run(main())


def test_supervision_counts_event_frames_too_and_ignores_unsupervised_accounts() -> None:
    mono = Monotonic()
    event = frame("SIA-DCS", "0070", f"#{ACCOUNT}|Nri1/RP")

    async def main() -> None:
        store = FakeAccept()
        async with running(store, account=accounts(supervision_s=10), monotonic=mono) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            mono.t += 14
            await panel.send(event)
            assert await panel.reply() == expected_ack(event)
            mono.t += 14
            await receiver.check_supervision()
            await panel.close()
        assert [e.type for e in store.events] == ["tech.test"]

    asyncio.run(main())


# -- bounds and configuration ----------------------------------------------------------------------


def test_idle_connection_is_closed_and_connections_are_bounded() -> None:
    async def main() -> None:
        store = FakeAccept()
        async with running(store, max_connections=1, idle_timeout_s=0.2) as receiver:
            first = await Panel.connect(receiver.bound_tcp)
            await asyncio.sleep(0.02)
            second = await Panel.connect(receiver.bound_tcp)
            async with asyncio.timeout(1):
                assert await second.reader.read() == b""  # over the limit: closed at once
            assert receiver.metrics.rejected_connections == 1
            async with asyncio.timeout(1):
                assert await first.reader.read() == b""  # idle for 0.2 s: closed
            await first.close()
            await second.close()

    asyncio.run(main())


def test_a_connection_waiting_for_the_store_is_not_idle_and_its_idle_time_restarts_after_the_ack() -> None:
    sent = frame("SIA-DCS", "0070", f"#{ACCOUNT}|Nri1/BA7")

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        async with running(store, idle_timeout_s=0.2) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await asyncio.sleep(0.1)
            await panel.send(sent)
            await store.wait_calls(1)
            await asyncio.sleep(0.5)  # well past the timeout, but the frame is being answered
            store.gate.set()
            assert await panel.reply() == expected_ack(sent)
            assert await panel.silent(0.08)  # not closed at once: idle from the ACK on
            async with asyncio.timeout(1):
                assert await panel.reader.read() == b""
            await panel.close()

    asyncio.run(main())


def test_a_connection_that_does_not_read_its_answers_for_the_idle_timeout_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        store = FakeAccept()
        async with running(store, idle_timeout_s=0.2) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await asyncio.sleep(0.02)
            (conn,) = receiver._connections
            conn.idle_since += 10  # never idle: only the stall can close it
            conn.stalled_since = asyncio.get_running_loop().time()  # as the transport's pause_writing sets it
            async with asyncio.timeout(1):
                with contextlib.suppress(ConnectionResetError):
                    assert await panel.reader.read() == b""
            await panel.close()

    with caplog.at_level(logging.INFO, logger="tocsin.ingest.sia"):
        asyncio.run(main())
    assert [
        r.getMessage() for r in caplog.records if r.name == "tocsin.ingest.sia" and "closing" in r.getMessage()
    ] == ["sia connection not reading its answers, closing"]


async def unread_panel(receiver: SiaReceiver, link: bytes) -> tuple[socket.socket, PanelConnection[Any]]:
    """A panel that sends 1,000 link tests and reads none of the answers (50 KB): with small
    socket buffers most of them stay in the receiver's transport, too few to stall it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    addr = receiver.bound_tcp
    assert addr is not None
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, addr)
    assert await eventually(lambda: len(receiver._connections) == 1, 1)
    (conn,) = receiver._connections
    served: Any = conn._transport
    served.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    await loop.sock_sendall(sock, link * 1000)
    return sock, conn


def test_a_half_closed_connection_whose_answers_cannot_be_sent_is_aborted_and_frees_its_slot() -> None:
    link = frame("NULL", "0090")

    async def main() -> None:
        store = FakeAccept()
        async with running(store, max_connections=1, idle_timeout_s=0.2) as receiver:
            sock, conn = await unread_panel(receiver, link)
            sock.shutdown(socket.SHUT_WR)
            await asyncio.sleep(0.1)
            assert conn.closing and conn.unsent and conn.stalled_since is None
            # closed on EOF, flushing for ever: aborted by the sweep
            assert await eventually(lambda: not receiver._connections, 3)
            second = await Panel.connect(receiver.bound_tcp)  # the slot is free again
            await second.send(link)
            assert await second.reply() == expected_ack(link)
            await second.close()
            sock.close()

    asyncio.run(main())


def test_stop_drops_answers_a_panel_does_not_read_instead_of_waiting_for_it() -> None:
    link = frame("NULL", "0091")

    async def main() -> None:
        receiver = SiaReceiver(SiaConfig(tcp="127.0.0.1:0", account=accounts()), FakeAccept(), clock=FixedClock())
        await receiver.start()
        sock, conn = await unread_panel(receiver, link)
        assert await eventually(lambda: conn.unsent, 2)
        async with asyncio.timeout(1):
            await receiver.stop()
        await asyncio.sleep(0.05)
        assert not receiver._connections and conn.closing
        sock.close()

    asyncio.run(main())


def test_an_answer_that_cannot_be_built_is_logged_and_the_frames_behind_it_are_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alarm = frame("SIA-DCS", "0095", f"#{ACCOUNT}|Nri1/BA7")
    link = frame("NULL", "0096")

    class BrokenOnce(FixedClock):
        armed = False

        def __call__(self) -> datetime:
            if self.armed:
                self.armed = False
                raise RuntimeError("clock failed")
            return self.now

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        clock = BrokenOnce()
        async with running(store, clock=clock) as receiver:
            panel = await Panel.connect(receiver.bound_tcp)
            await panel.send(alarm + link)  # the link test waits behind the alarm
            await store.wait_calls(1)
            clock.armed = True  # the alarm's ACK cannot be built
            store.gate.set()
            assert await panel.reply() == expected_ack(link)
            assert receiver.metrics.errors == 1 and receiver.metrics.unanswered == 1
            await panel.close()

    with caplog.at_level(logging.ERROR, logger="tocsin.ingest.sia"):
        asyncio.run(main())
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "tocsin.ingest.sia"]
    assert record.getMessage() == "sia frame answer failed; not acknowledged" and record.__dict__["seq"] == "0095"


def test_stop_lets_the_frame_being_answered_finish() -> None:
    sent = frame("SIA-DCS", "0080", f"#{ACCOUNT}|Nri1/BA7")

    async def main() -> None:
        store = FakeAccept()
        store.gate = asyncio.Event()
        receiver = SiaReceiver(SiaConfig(tcp="127.0.0.1:0", account=accounts()), store, clock=FixedClock())
        await receiver.start()
        assert receiver.bound_udp is None
        panel = await Panel.connect(receiver.bound_tcp)
        idle = await Panel.connect(receiver.bound_tcp)
        await panel.send(sent)
        await store.wait_calls(1)
        stopping = asyncio.create_task(receiver.stop())
        await asyncio.sleep(0.05)
        store.gate.set()
        assert await panel.reply() == expected_ack(sent)
        await stopping
        async with asyncio.timeout(1):
            assert await idle.reader.read() == b""
        await panel.close()
        await idle.close()

    asyncio.run(main())


def test_bad_configuration_is_a_config_error() -> None:
    async def accept(
        events: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> list[tuple[int, int | None]]:
        return []

    with pytest.raises(ConfigError, match="twice"):
        SiaReceiver(SiaConfig(account=[SiaAccount(id="12ab"), SiaAccount(id="12AB")]), accept)
    with pytest.raises(ConfigError, match="hex"):
        SiaReceiver(SiaConfig(account=[SiaAccount(id="1234", key="XYZ")]), accept)
    with pytest.raises(ConfigError, match="host:port"):
        SiaReceiver(SiaConfig(tcp="localhost"), accept)

    async def taken() -> None:
        first = SiaReceiver(SiaConfig(tcp="127.0.0.1:0"), accept)
        await first.start()
        try:
            host, port = first.bound_tcp or ("", 0)
            second = SiaReceiver(SiaConfig(tcp=f"{host}:{port}"), accept)
            with pytest.raises(ConfigError, match="cannot listen"):
                await second.start()
        finally:
            await first.stop()

    asyncio.run(taken())
