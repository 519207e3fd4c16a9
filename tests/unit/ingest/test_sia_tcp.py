"""A panel's TCP connection (:mod:`tocsin.ingest.sia_tcp`) against a fake receiver, over loopback.

Each frame's body is a tag; the fake judges a frame by it: ``hold...`` is held until the test releases it,
``quiet...`` gets no answer, anything else is answered at once with ``ok:<frame>``; a held
frame is answered ``stored:<frame>`` (or ``failed:<frame>`` when released with an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ingest._polling import eventually
from tocsin.ingest.sia_batch import Done
from tocsin.ingest.sia_framing import encode_frame
from tocsin.ingest.sia_tcp import BACKLOG_FRAMES, PanelConnection, peer_text

Held = tuple[str, bytes]
"""The fake host's held frame: ("held", frame)."""


class FakeHost:
    def __init__(self, *, limit: int = 10, big_answers: bool = False) -> None:
        self.limit = limit
        self.big_answers = big_answers
        self.connections: list[PanelConnection[Held]] = []
        self.released: list[PanelConnection[Held]] = []
        self.judged: list[bytes] = []
        self.held: list[tuple[bytes, Done]] = []
        self.discards: list[tuple[str, int]] = []
        self.stopping = False

    def admit(self, conn: PanelConnection[Held]) -> bool:
        if len(self.connections) >= self.limit:
            return False
        self.connections.append(conn)
        return True

    def release(self, conn: PanelConnection[Held]) -> None:
        self.released.append(conn)

    def judge(self, data: bytes, peer: str) -> bytes | Held | None:
        frame = data[8:]  # past the CRC and the length
        self.judged.append(frame)
        if frame.startswith(b"hold"):
            return ("held", frame)
        if frame.startswith(b"quiet"):
            return None
        return (b"x" * 65536 if self.big_answers else b"ok:" + frame) + b"\r"

    def hold(self, held: Held, done: Done) -> None:
        self.held.append((held[1], done))

    def answer(self, held: Held, error: BaseException | None) -> bytes | None:
        frame: bytes = held[1]
        return (b"stored:" if error is None else b"failed:") + frame + b"\r"

    def discarded(self, peer: str, reason: str, count: int) -> None:
        self.discards.append((reason, count))

    def release_next(self, error: BaseException | None = None) -> bytes:
        frame, done = self.held.pop(0)
        done(error)
        return frame


@contextlib.asynccontextmanager
async def serving(host: FakeHost) -> AsyncIterator[tuple[str, int]]:
    server = await asyncio.get_running_loop().create_server(lambda: PanelConnection(host), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[:2]
    finally:
        server.close()
        for conn in host.connections:
            conn.close()
        await server.wait_closed()


async def replies(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    async with asyncio.timeout(2):
        return [(await reader.readuntil(b"\r"))[:-1] for _ in range(count)]


async def settle(host: FakeHost, held: int) -> None:
    assert await eventually(lambda: len(host.held) >= held, 2)


def busy(host: FakeHost) -> bool:
    return host.connections[0].busy


def stalled(host: FakeHost) -> bool:
    return host.connections[0].stalled_since is not None


def reading(transport: Any) -> bool:
    return bool(transport.is_reading())


def wire(*bodies: bytes) -> bytes:
    return b"".join(encode_frame(body) for body in bodies)


def test_frames_behind_a_held_one_wait_and_all_answers_leave_in_order() -> None:
    async def main() -> None:
        host = FakeHost()
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(wire(b"a1", b"hold2", b"quiet3"))
            await settle(host, 1)
            writer.write(wire(b"a4", b"hold5", b"a6"))  # a read of its own, while hold2 is held
            await asyncio.sleep(0.05)
            assert host.judged == [b"a1", b"hold2"]  # nothing behind the held frame is judged yet
            assert busy(host)
            assert await replies(reader, 1) == [b"ok:a1"]
            assert host.release_next() == b"hold2"
            await settle(host, 1)
            assert host.judged == [b"a1", b"hold2", b"quiet3", b"a4", b"hold5"]
            host.release_next(RuntimeError("store down"))
            assert await replies(reader, 4) == [b"stored:hold2", b"ok:a4", b"failed:hold5", b"ok:a6"]
            assert not busy(host)
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


@settings(max_examples=30, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["hold", "quiet", "a"]), min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=6),
)
def test_answers_follow_the_frames_order_however_the_bytes_are_split(kinds: list[str], cuts: list[int]) -> None:
    frames = [f"{kind}{n}".encode() for n, kind in enumerate(kinds)]
    data = wire(*frames)

    async def main() -> list[bytes]:
        host = FakeHost()
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            pos = 0
            for cut in cuts:
                writer.write(data[pos : pos + cut])
                await writer.drain()
                pos += cut
            writer.write(data[pos:])
            expected = [f for f in frames if not f.startswith(b"quiet")]
            got: list[bytes] = []
            async with asyncio.timeout(3):
                while len(got) < len(expected):
                    if host.held:
                        host.release_next()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.01):
                            got.append((await reader.readuntil(b"\r"))[:-1])
            writer.close()
            await writer.wait_closed()
            assert host.judged == frames
            return got

    got = asyncio.run(main())
    assert got == [(b"stored:" if f.startswith(b"hold") else b"ok:") + f for f in frames if not f.startswith(b"quiet")]


def test_a_panel_that_half_closes_after_a_held_frame_still_gets_its_answer() -> None:
    async def main() -> None:
        host = FakeHost()
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(wire(b"hold1", b"a2"))
            writer.write_eof()
            await settle(host, 1)
            host.release_next()
            assert await replies(reader, 2) == [b"stored:hold1", b"ok:a2"]
            async with asyncio.timeout(2):
                assert await reader.read() == b""  # then the receiver closes
            assert host.released == host.connections
            writer.close()

    asyncio.run(main())


def test_a_long_backlog_pauses_reading_until_it_is_answered() -> None:
    async def main() -> None:
        host = FakeHost()
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(wire(b"hold0", *[b"a%d" % n for n in range(1, BACKLOG_FRAMES + 5)]))
            await settle(host, 1)
            await asyncio.sleep(0.05)
            conn = host.connections[0]
            transport: Any = conn._transport
            assert not reading(transport)
            host.release_next()
            got = await replies(reader, BACKLOG_FRAMES + 5)
            assert got[0] == b"stored:hold0" and got[-1] == b"ok:a%d" % (BACKLOG_FRAMES + 4)
            assert reading(transport)
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


def test_a_panel_that_does_not_read_its_answers_is_marked_stalled_and_not_read() -> None:
    async def main() -> None:
        host = FakeHost(big_answers=True)
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(wire(b"a0"))
            await reader.readexactly(65537)
            transport: Any = host.connections[0]._transport
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            for n in range(1, 64):  # 4 MiB of answers nobody reads
                writer.write(wire(b"a%d" % n))
                await asyncio.sleep(0)
            assert await eventually(lambda: stalled(host), 3)
            assert not reading(transport)
            await reader.readexactly(63 * 65537)  # the panel reads again: so does the receiver
            assert await eventually(lambda: not stalled(host), 3)
            assert reading(transport)
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


def test_a_refused_connection_is_closed_at_once_and_junk_is_reported() -> None:
    async def main() -> None:
        host = FakeHost(limit=1)
        async with serving(host) as addr:
            first_reader, first = await asyncio.open_connection(*addr)
            second_reader, second = await asyncio.open_connection(*addr)
            async with asyncio.timeout(2):
                assert await second_reader.read() == b""
            first.write(b"noise" + wire(b"a1"))
            assert await replies(first_reader, 1) == [b"ok:a1"]
            assert host.discards == [("junk", 5)]
            for writer in (first, second):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    asyncio.run(main())


def test_while_the_receiver_stops_no_new_frame_is_judged() -> None:
    async def main() -> None:
        host = FakeHost()
        async with serving(host) as addr:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(wire(b"hold1", b"a2"))
            await settle(host, 1)
            host.stopping = True
            host.release_next()
            assert await replies(reader, 1) == [b"stored:hold1"]
            await asyncio.sleep(0.05)
            assert host.judged == [b"hold1"]  # a2 is left unanswered: its panel resends it
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("addr", "text"),
    [(("127.0.0.1", 5000), "127.0.0.1:5000"), (("::1", 5000, 0, 0), "::1:5000"), ("/tmp/sock", "/tmp/sock")],
)
def test_peer_text(addr: object, text: str) -> None:
    assert peer_text(addr) == text
