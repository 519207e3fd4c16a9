"""Polled cameras: a real HTTP stream server, reconnects, heartbeats and supervision."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from tests.e2e.server import free_port
from tocsin.errors import StoreUnavailable
from tocsin.ingest.camera_poll import CameraPoller, PolledCamera
from tocsin.model import Actor, EventIn


def alert(event_type: str, state: str = "active") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<ipAddress>10.0.0.7</ipAddress><channelID>1</channelID><dateTime>2026-11-23T10:00:00+00:00</dateTime>"
        f"<activePostCount>1</activePostCount><eventType>{event_type}</eventType><eventState>{state}</eventState>"
        f"<eventDescription>{event_type} alarm</eventDescription></EventNotificationAlert>"
    ).encode()


def part(body: bytes) -> bytes:
    return b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(body), body)


class Recorder:
    def __init__(self, busy_first: bool = False) -> None:
        self.events: list[EventIn] = []
        self.busy = busy_first

    async def __call__(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> None:
        if self.busy:
            self.busy = False
            raise StoreUnavailable("busy")
        assert actor.role == "device"
        self.events.extend(items)


def test_stream_events_heartbeats_and_reconnect() -> None:
    async def main() -> tuple[Recorder, CameraPoller]:
        async def stream(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "multipart/mixed; boundary=boundary"})
            await resp.prepare(request)
            whole = part(alert("linedetection")) + part(alert("videoloss", "inactive")) + part(alert("VMD"))
            for i in range(0, len(whole), 97):  # arbitrary chunk edges
                await resp.write(whole[i : i + 97])
                await asyncio.sleep(0.001)
            return resp  # the stream ends: the poller must reconnect

        app = web.Application()
        app.router.add_get("/ISAPI/Event/notification/alertStream", stream)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        recorder = Recorder(busy_first=True)
        camera = PolledCamera(vendor="hikvision", url=f"http://127.0.0.1:{port}/ISAPI/Event/notification/alertStream",
                              name="gate-cam", site="gate")  # fmt: skip
        poller = CameraPoller(camera, recorder)
        task = asyncio.create_task(poller.run())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if poller.connects >= 2 and len(recorder.events) >= 4:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
        return recorder, poller

    recorder, poller = asyncio.run(main())
    types = [e.type for e in recorder.events]
    assert poller.connects >= 2
    assert types[:2] == ["hikvision.linedetection", "hikvision.VMD"]  # the 503 was retried, nothing lost
    assert all("videoloss" not in t for t in types)  # heartbeats never become events
    assert all(e.site == "gate" and e.source == "hikvision:gate-cam" for e in recorder.events)


def test_silent_camera_raises_and_clears_comm_failure() -> None:
    now = [1000.0]

    async def main() -> list[EventIn]:
        recorder = Recorder()
        camera = PolledCamera(vendor="dahua", url="http://127.0.0.1:9/", name="yard", site="yard", supervision_s=30)
        poller = CameraPoller(camera, recorder, monotonic=lambda: now[0])
        await poller.check_supervision()
        now[0] += 31
        await poller.check_supervision()
        await poller.check_supervision()  # raised once, not again
        poller._heard()
        assert not poller.down
        await poller.check_supervision()  # the background task's tick: stores the cleared event
        return recorder.events

    events = asyncio.run(main())
    assert [(e.type, e.condition) for e in events] == [
        ("tech.comm_failure", "active"),
        ("tech.comm_failure", "cleared"),
    ]
