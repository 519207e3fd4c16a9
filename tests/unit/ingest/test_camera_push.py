"""Pushing cameras: which posts count as the camera speaking, and the comm-failure events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from tocsin.config import SETTINGS_DOC, load_settings
from tocsin.errors import ConfigError
from tocsin.ingest.camera import CameraEvent
from tocsin.ingest.camera_push import SUPERVISION_ACTOR, PushCamera, PushSupervisor
from tocsin.ingest.hikvision import parse_isapi
from tocsin.model import Actor, EventIn

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MAC = "C0:6D:ED:0C:CC:EE"
HEARTBEAT = (
    b'<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
    b"<ipAddress>192.168.31.217</ipAddress><macAddress>c0:6d:ed:0c:cc:ee</macAddress><channelID/>"
    b"<dateTime>2022-11-22T19:37:29+02:00</dateTime><activePostCount>0</activePostCount>"
    b"<eventType>videoloss</eventType><eventState>inactive</eventState></EventNotificationAlert>"
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[EventIn], Actor, list[str | None]]] = []

    async def __call__(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> None:
        self.calls.append((list(items), actor, list(raw or [])))

    @property
    def events(self) -> list[EventIn]:
        return [e for items, _, _ in self.calls for e in items]


class Clocks:
    def __init__(self) -> None:
        self.mono = 0.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.mono)


def supervisor(store: Recorder, clocks: Clocks) -> PushSupervisor:
    cameras = [
        PushCamera(vendor="hikvision", device=MAC, supervision_s=60, site="depot-3", name="gate"),
        PushCamera(vendor="onvif", device="cam-token", supervision_s=30, site="lobby"),
    ]
    return PushSupervisor(cameras, store, clock=clocks.wall, monotonic=lambda: clocks.mono, grace_s=5)


def onvif_event(device: str | None) -> CameraEvent:
    return CameraEvent(vendor="onvif", code="tns1:VideoSource/MotionAlarm", active=True, occurred_at=None,
                       channel=None, device=device)  # fmt: skip


def test_heartbeat_post_counts_and_matching_is_by_vendor_and_device() -> None:
    sup = supervisor(Recorder(), Clocks())
    events = parse_isapi(HEARTBEAT, "application/xml")
    assert events[0].heartbeat and events[0].device is not None
    assert sup.heard(events, "test-device") == 1  # MAC compared case-insensitively
    assert sup.heard([onvif_event(None)], "cam-token") == 1  # no device in the body: the token's name
    assert sup.heard([onvif_event("cam-token")], "x") == 1
    assert sup.heard([onvif_event("other")], "cam-token") == 0
    hik_elsewhere = msgspec.structs.replace(events[0], vendor="onvif")
    assert sup.heard([hik_elsewhere], "x") == 0  # same device, other vendor: a different camera
    assert sup.heard([], "cam-token") == 0


def test_silent_camera_raises_comm_failure_for_its_site_and_clears_when_it_posts() -> None:
    async def main() -> None:
        store, clocks = Recorder(), Clocks()
        sup = supervisor(store, clocks)
        sup.start()
        try:
            clocks.advance(50)
            sup.heard(parse_isapi(HEARTBEAT, "application/xml"), "t")
            clocks.advance(40)  # the ONVIF camera: 90 s silent > 30 + 5; the Hikvision one: 40 s
            await sup.check()
            assert [(e.source, e.site, e.condition) for e in store.events] == [("onvif:cam-token", "lobby", "active")]
            assert sup.down() == ["onvif:cam-token"] and sup.failures == 1
            clocks.advance(30)  # the Hikvision camera now 70 s silent > 60 + 5
            await sup.check()
            sup.heard([onvif_event(None)], "cam-token")
            await sup.check()
        finally:
            await sup.stop()
        got = [(e.source, e.condition) for e in store.events]
        assert got == [
            ("onvif:cam-token", "active"),
            (f"hikvision:{MAC}", "active"),
            ("onvif:cam-token", "cleared"),
        ]
        hik = store.events[1]
        assert (hik.type, hik.method, hik.site) == ("tech.comm_failure", "equipment", "depot-3")
        assert hik.description == "camera gate stopped posting (must post every 60 s)"
        assert hik.attributes == {"device": MAC, "supervision_s": 60}
        assert hik.occurred_at == T0 + timedelta(seconds=120)
        assert store.events[2].description == "camera cam-token posts again (must post every 30 s)"
        assert {actor for _, actor, _ in store.calls} == {SUPERVISION_ACTOR}
        assert all(raw == [None] for _, _, raw in store.calls)

    asyncio.run(main())


def test_same_camera_twice_is_a_configuration_error() -> None:
    cams = [PushCamera(vendor="hikvision", device=MAC, supervision_s=60),
            PushCamera(vendor="hikvision", device=MAC.lower(), supervision_s=30)]  # fmt: skip
    with pytest.raises(ConfigError, match="twice"):
        PushSupervisor(cams, Recorder())


def test_push_camera_settings_parse_and_are_documented() -> None:
    settings = load_settings(
        None,
        push_camera=[{"vendor": "onvif", "device": "urn:uuid:1", "supervision_s": 120, "site": "lobby"}],
    )
    assert settings.push_camera == [PushCamera(vendor="onvif", device="urn:uuid:1", supervision_s=120, site="lobby")]
    assert {f"push_camera.{f}" for f in PushCamera.__struct_fields__} <= set(SETTINGS_DOC)
    with pytest.raises(ConfigError):
        load_settings(None, push_camera=[{"vendor": "dahua", "device": "x", "supervision_s": 1}])
    with pytest.raises(ConfigError):
        load_settings(None, push_camera=[{"vendor": "onvif", "device": "x", "supervision_s": 0}])
