"""Cameras that are polled: a long-lived GET of the camera's event stream, kept open.

Hikvision serves ``/ISAPI/Event/notification/alertStream`` and Dahua
``/cgi-bin/eventManager.cgi?action=attach&codes=[All]``: multipart streams that never
end. One task per camera reads the stream into the vendor's parser and hands events to
the ingest door. A dropped connection, an error status or a stream that ends is retried
with backoff (``MIN_BACKOFF_S`` doubling to ``MAX_BACKOFF_S``); every byte received, a
heartbeat included, counts as the camera being alive.

Supervision: a camera configured with ``supervision_s`` that stays silent (or
unreachable) that long raises ``tech.comm_failure`` for its site, cleared as soon as it
speaks again (deadlines and ordered, retried delivery: :mod:`.supervision`). Heartbeats
feed this deadline and never open incidents themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import aiohttp
import msgspec
from msgspec import Meta

from tocsin.ingest.camera import CameraDecodeError, CameraEvent, CameraStream, camera_batch
from tocsin.ingest.dahua import EventStreamParser
from tocsin.ingest.door import Accept, hand_over
from tocsin.ingest.hikvision import AlertStreamParser
from tocsin.ingest.supervision import Outages, Supervisor, comm_failure
from tocsin.model import Actor, Condition, EventIn

__all__ = ("MAX_BACKOFF_S", "MIN_BACKOFF_S", "CameraPoller", "PolledCamera")

log = logging.getLogger(__name__)
MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
READ_CHUNK = 16 * 1024


class PolledCamera(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[camera]]`` in the TOML file: one camera whose event stream tocsin holds open."""

    vendor: Literal["hikvision", "dahua"]
    url: str
    name: str
    site: str | None = None
    username: str | None = None
    password: str | None = None
    supervision_s: Annotated[float, Meta(gt=0)] | None = None


def _parser(camera: PolledCamera, content_type: str) -> CameraStream:
    if camera.vendor == "hikvision":
        return AlertStreamParser(content_type)
    return EventStreamParser(content_type)


class CameraPoller:
    """Holds one camera's event stream open until cancelled.

    ``outages``: comm failures still open in the store (see ``Supervisor.start``).
    """

    def __init__(
        self,
        camera: PolledCamera,
        accept: Accept,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        on_dropped: Callable[[int], None] | None = None,
        outages: Outages | None = None,
    ) -> None:
        self.camera = camera
        self._outages = outages
        self._accept = accept
        self._monotonic = monotonic
        self._on_dropped = on_dropped or (lambda _n: None)
        self._actor = Actor(name=f"{camera.vendor}:{camera.name}", role="device")
        self._key = f"{camera.vendor}:{camera.name}"
        # No grace: the stream's read timeout is supervision_s itself, so silence is already measured.
        self._supervision = Supervisor(self._send_supervision, what="camera", monotonic=monotonic, grace_s=0.0)
        if camera.supervision_s is not None:
            self._supervision.watch(self._key, camera.supervision_s, self._comm_event)
        self.connects = 0

    @property
    def down(self) -> bool:
        """Whether the camera is in a communication-failure episode."""
        return bool(self._supervision.down())

    async def run(self) -> None:
        self._supervision.start(self._outages)
        try:
            await self._stream()
        finally:
            await self._supervision.stop()

    async def _stream(self) -> None:
        backoff = MIN_BACKOFF_S
        auth = None
        if self.camera.username is not None:
            auth = aiohttp.DigestAuthMiddleware(self.camera.username, self.camera.password or "")
        async with aiohttp.ClientSession(middlewares=(auth,) if auth else ()) as session:
            while True:
                try:
                    await self._read(session)
                    backoff = MIN_BACKOFF_S  # a stream that ran and ended: reconnect promptly
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("camera stream failed; reconnecting",
                                extra={"camera": self.camera.name, "error": str(exc), "in_s": backoff})  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    async def _read(self, session: aiohttp.ClientSession) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.camera.supervision_s or 300)
        async with session.get(self.camera.url, timeout=timeout) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, resp.history, status=resp.status,
                                                  message=f"camera answered {resp.status}")  # fmt: skip
            self.connects += 1
            parser = _parser(self.camera, resp.headers.get("content-type", ""))
            async for chunk in resp.content.iter_chunked(READ_CHUNK):
                self._heard()
                try:
                    events = parser.feed(chunk)
                except CameraDecodeError as exc:
                    log.warning("bad part in camera stream", extra={"camera": self.camera.name, "error": exc.detail})
                    continue
                await self._deliver(events)

    async def _deliver(self, events: list[CameraEvent]) -> None:
        batch = camera_batch(events, source=lambda ev: f"{ev.vendor}:{self.camera.name}", site=self.camera.site)
        if batch.dropped:
            self._on_dropped(batch.dropped)
        if batch.items:
            await self._send(batch.items, batch.raw)

    async def _send(self, items: list[EventIn], raw: list[str | None]) -> None:
        await hand_over(self._accept, items, self._actor, raw, origin=f"camera {self.camera.name}")

    def _heard(self) -> None:
        self._supervision.heard(self._key)

    async def _send_supervision(self, events: list[EventIn]) -> None:
        await self._accept(events, self._actor, raw=[None] * len(events))

    async def check_supervision(self) -> None:
        """Raise the comm failure of a camera silent too long; store pending supervision events.

        The background task does this every second; tests call it after moving the clock.
        """
        await self._supervision.check()

    def _comm_event(self, condition: Condition, episode: datetime, at: datetime) -> EventIn:
        return comm_failure(
            condition,
            at,
            source=self._key,
            site=self.camera.site,
            description=f"camera {self.camera.name} event stream {'silent' if condition == 'active' else 'back'}",
            episode_key=f"supervision:{int(episode.timestamp() * 1_000_000)}",
        )
