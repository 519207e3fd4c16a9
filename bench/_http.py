"""A minimal asyncio HTTP/1.1 keep-alive client and webhook receiver, for the benchmarks only.

httpx costs far more CPU per request than the servers under test spend answering, so the
load generator would measure itself. This client writes prebuilt request bytes and reads
the status line, headers and a Content-Length (or chunked) body: nothing else.

The receiver answers every POST with ``200`` and keeps the connection alive, and records
when each payload's site arrived: ``incident.site`` for tocsin, ``alerts[].labels.site``
for Alertmanager. ``GET /__stats`` and ``POST /__take`` (returns and clears) expose what
it saw to the benchmark driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import msgspec

__all__ = ("Client", "Response", "free_port", "read_body", "read_head", "run_async", "run_receiver")

T = TypeVar("T")

_decode = msgspec.json.decode
_encode = msgspec.json.encode


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Response(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes


async def read_head(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str]]:
    """The start line and the headers (lower-cased names) of a request or response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return lines[0], headers


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The message body: by Content-Length, chunked, or none."""
    length = headers.get("content-length")
    if length is not None:
        n = int(length)
        return await reader.readexactly(n) if n else b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return b""


class Client:
    """One keep-alive connection; requests on it are strictly sequential."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._extra = f"Host: {host}:{port}\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: bytes = b"") -> Response:
        """Send one request and read its response; reconnects first if the last one broke.

        Raises:
            OSError, asyncio.IncompleteReadError: the connection failed (it is closed).
        """
        if self._writer is None:
            await self.connect()
        assert self._reader is not None and self._writer is not None
        head = f"{method} {path} HTTP/1.1\r\n{self._extra}Content-Length: {len(body)}\r\n\r\n"
        try:
            self._writer.write(head.encode("latin-1") + body)
            status_line, headers = await read_head(self._reader)
            status = int(status_line.split(b" ", 2)[1])
            data = await read_body(self._reader, headers)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            await self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, data)


# -- webhook receiver (runs in its own process) ----------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


class _Receiver:
    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.payloads = 0
        self.repeats = 0
        self.other = 0

    def record(self, body: bytes, at: float) -> None:
        self.payloads += 1
        try:
            doc = _decode(body)
        except msgspec.DecodeError:
            self.other += 1
            return
        sites: list[str] = []
        if isinstance(doc, dict):
            incident = doc.get("incident")
            if isinstance(incident, dict) and doc.get("event") == "incident.opened":
                sites.append(str(incident.get("site")))
            for alert in doc.get("alerts") or ():
                sites.append(str(alert.get("labels", {}).get("site")))
        if not sites:
            self.other += 1
        for site in sites:
            if site in self.first:
                self.repeats += 1
            else:
                self.first[site] = at

    def control(self, path: bytes) -> bytes:
        stats: dict[str, Any] = {
            "payloads": self.payloads,
            "sites": len(self.first),
            "repeats": self.repeats,
            "other": self.other,
        }
        if path == b"/__take":
            stats["first"] = self.first
            self.first, self.payloads, self.repeats, self.other = {}, 0, 0, 0
        body = _encode(stats)
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                start, headers = await read_head(reader)
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await read_body(reader, headers)
                at = time.time()
                path = start.split(b" ")[1] if b" " in start else b"/"
                if path.startswith(b"/__"):
                    writer.write(self.control(path))
                else:
                    writer.write(_OK)
                    self.record(body, at)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve_receiver(port: int) -> None:
    receiver = _Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_receiver(port: int) -> None:
    """Process entry point: serve the webhook receiver on 127.0.0.1:port until terminated.

    Ctrl-C is left to the driver, which stops this process itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(KeyboardInterrupt):
        run_async(_serve_receiver(port))
