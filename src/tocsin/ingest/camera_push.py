"""Cameras that push: supervision of ONVIF and Hikvision cameras posting to tocsin.

A camera configured as an HTTP alarm server posts its events (and Hikvision its
``videoloss`` heartbeats) to ``/api/v1/ingest/onvif`` or ``/api/v1/ingest/hikvision``.
Posts arrive only when the camera is alive, so a dead or unplugged camera looks exactly
like a quiet one. ``[[push_camera]]`` names the cameras that must be heard from at least
every ``supervision_s`` seconds; a camera silent past that (plus a grace) raises
``tech.comm_failure`` for its site, cleared the first time it posts again, through the
same ingest door as its events (:mod:`.supervision` owns deadlines and episodes).

A post is matched to a configured camera by the vendor of its events and the device
identity they carry (Hikvision ``macAddress``, serial or IP address; the ONVIF producer
address), compared case-insensitively; events that name no device are matched by the
name of the device token that posted them. Anything a camera posts that parses counts,
heartbeats included; a malformed body does not. It owns no HTTP: the endpoints call
:meth:`PushSupervisor.heard`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from tocsin.ingest.camera import CameraEvent
from tocsin.ingest.door import Accept
from tocsin.ingest.supervision import DEFAULT_GRACE_S, EventFactory, Outages, Supervisor, comm_failure, utcnow
from tocsin.model import Actor, Condition, EventIn

__all__ = ("SUPERVISION_ACTOR", "PushCamera", "PushSupervisor")

SUPERVISION_ACTOR = Actor(name="camera:supervision", role="device")
"""Who stores the comm-failure events of pushing cameras (in the audit chain)."""


class PushCamera(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[push_camera]]`` in the TOML file: a camera that posts to tocsin and must keep doing so."""

    vendor: Literal["onvif", "hikvision"]
    device: Annotated[str, Meta(min_length=1, max_length=200)]
    supervision_s: Annotated[float, Meta(gt=0)]
    site: str | None = None
    name: str | None = None

    @property
    def key(self) -> str:
        return _key(self.vendor, self.device)

    @property
    def label(self) -> str:
        return self.name or self.device


def _key(vendor: str, device: str) -> str:
    return f"{vendor}:{device.strip().casefold()}"


def _comm_event(camera: PushCamera) -> EventFactory:
    def event(condition: Condition, episode: datetime, at: datetime) -> EventIn:
        verb = "stopped posting" if condition == "active" else "posts again"
        return comm_failure(
            condition,
            at,
            source=f"{camera.vendor}:{camera.device}",
            site=camera.site,
            description=f"camera {camera.label} {verb} (must post every {camera.supervision_s:g} s)",
            attributes={"device": camera.device, "supervision_s": camera.supervision_s},
            episode_key=f"supervision:{int(episode.timestamp() * 1_000_000)}",
        )

    return event


class PushSupervisor:
    """Deadlines for the configured pushing cameras.

    Args:
        cameras: the ``[[push_camera]]`` entries.
        accept: the ingest door (``Runtime.accept``).
        clock: wall-clock time of outages (UTC, aware).
        monotonic: seconds on a monotonic clock for deadlines (tests move it).
        grace_s: extra seconds after ``supervision_s`` before a camera is declared failed.
        tick_s: how often deadlines are checked.

    Raises:
        ConfigError: the same vendor and device are configured twice.

    Use from one event loop: ``start`` once the loop runs, ``stop`` on shutdown.
    """

    def __init__(
        self,
        cameras: Sequence[PushCamera],
        accept: Accept,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        grace_s: float = DEFAULT_GRACE_S,
        tick_s: float = 1.0,
    ) -> None:
        self._accept = accept
        self._supervisor = Supervisor(
            self._send, what="camera", clock=clock, monotonic=monotonic, grace_s=grace_s, tick_s=tick_s
        )
        for camera in cameras:
            self._supervisor.watch(camera.key, camera.supervision_s, _comm_event(camera))

    async def _send(self, events: list[EventIn]) -> None:
        await self._accept(events, SUPERVISION_ACTOR, raw=[None] * len(events))

    def heard(self, events: Iterable[CameraEvent], sender: str) -> int:
        """Note the cameras a post came from (events without a device: the posting token's name).

        Args:
            events: what the post decoded to, heartbeats included.
            sender: the name of the device token that posted.

        Returns:
            How many supervised cameras were heard.
        """
        keys = {_key(ev.vendor, ev.device or sender) for ev in events}
        return sum(self._supervisor.heard(key) for key in keys)

    def down(self) -> list[str]:
        """``vendor:device`` (device case-folded) of the cameras currently failed."""
        return self._supervisor.down()

    @property
    def failures(self) -> int:
        """Outages declared since start."""
        return self._supervisor.failures

    async def check(self) -> None:
        """Declare silent cameras failed and store pending events now (tests; the task does it too)."""
        await self._supervisor.check()

    def start(self, outages: Outages | None = None) -> None:
        """Give every camera a full period from now (``outages`` resume down) and check deadlines in the background."""
        self._supervisor.start(outages)

    async def stop(self) -> None:
        await self._supervisor.stop()
