"""The simulated alarm panels of ``bench/sia.py``, run in a load process of their own.

Each panel is one account on one TCP connection, sending SIA-DCS burglary alarms stop and
wait, as DC-09 panels do; :func:`load_main` runs them for a while and sends back the ACK
latencies.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any, cast

from _http import run_async
from tocsin.ingest.sia_codec import encode_frame, format_timestamp

__all__ = ("Frames", "account_id", "load_main")


def account_id(index: int) -> str:
    """The SIA account of panel ``index`` (the server configures the same)."""
    return f"{0x1000 + index:X}"


class Frames:
    """Builds each connection's next frame; timestamps are re-formatted once per second.

    Every frame is a new alarm to the receiver, never a resend of an earlier one: the
    receiver takes a frame with the same account, sequence and data within 10 minutes for a
    retransmission and only looks up what it stored then. Each load process starts its
    sequences at 1 again, so the zone carries the ``run`` (a number per load process) and
    the count of wraps within it; with the same data in every run, all but the first run
    of a mode mostly measured that cheaper lookup instead of storing alarms.
    """

    def __init__(self, index: int, run: int) -> None:
        self.account = account_id(index)
        self.run = run
        self.count = 0
        self._second = -1
        self._stamp = ""

    def next(self) -> bytes:
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            self._stamp = format_timestamp(datetime.fromtimestamp(now, UTC))
        self.count += 1
        seq = self.count % 10_000
        zone = (self.run * 10 + self.count // 10_000) % 999 + 1  # new data per run, and when the sequence wraps
        body = f'"SIA-DCS"{seq:04d}R1L0#{self.account}[#{self.account}|Nri1/BA{zone:03d}]_{self._stamp}'
        return encode_frame(body.encode())


class _Panel(asyncio.Protocol):
    """One panel on one TCP connection: sends a frame, waits for its answer, sends the next.

    A protocol answering from ``data_received``, not a coroutine per frame, and on uvloop
    when installed: 50 real panels each have a CPU of their own, so the simulator's cost
    per frame is kept small enough not to be what the measurement measures (as a coroutine
    on asyncio's own loop it was about 40 microseconds of CPU a frame, a core at 25k
    frames/s). ``interval`` None: the next frame goes as soon as the answer is in; else
    every ``interval`` seconds from ``offset``, and latency runs from when a frame was due.
    """

    def __init__(
        self, index: int, run: int, until: float, interval: float | None, offset: float, out: dict[str, Any]
    ) -> None:
        self._frames = Frames(index, run)
        self._until = until
        self._interval = interval
        self._offset = offset
        self._out = out
        self._latencies: list[float] = out["latencies"]
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._sent_for = 0.0
        """When the frame awaiting its answer was due (or sent, unpaced)."""
        self._due = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._due = time.perf_counter() + self._offset
        self._next()

    def _next(self) -> None:
        if self.done.done():  # the connection was lost
            return
        now = time.perf_counter()
        if self._interval is None:
            start = now
        else:
            if self._due > now:
                asyncio.get_running_loop().call_later(self._due - now, self._next)
                return
            start = self._due
            self._due += self._interval
        if start >= self._until:
            self._finish()
            return
        self._sent_for = start
        assert self._transport is not None
        self._transport.write(self._frames.next())

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\r" in self._buffer:
            reply, _, self._buffer = self._buffer.partition(b"\r")
            if b'"ACK"' in reply:
                self._out["acks"] += 1
                self._latencies.append(time.perf_counter() - self._sent_for)
            else:
                self._out["other"] += 1
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if not self.done.done():
            self.done.set_result(None)


async def _load(
    addr: tuple[str, int], connections: int, seconds: float, rate: float | None, run: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"acks": 0, "other": 0, "latencies": []}
    loop = asyncio.get_running_loop()
    cpu = time.process_time()
    began = time.perf_counter()
    until = began + seconds
    interval = connections / rate if rate else None
    panels: list[_Panel] = []
    for i in range(connections):
        offset = (interval or 0) * i / connections
        _, panel = await loop.create_connection(functools.partial(_Panel, i, run, until, interval, offset, out), *addr)
        panels.append(panel)
    await asyncio.gather(*(panel.done for panel in panels))
    out["seconds"] = time.perf_counter() - began
    out["cpu_s"] = time.process_time() - cpu
    return out


def load_main(
    pipe: Connection, addr: tuple[str, int], connections: int, seconds: float, rate: float | None, run: int
) -> None:
    pipe.send(run_async(_load(addr, connections, seconds, rate, run)))
