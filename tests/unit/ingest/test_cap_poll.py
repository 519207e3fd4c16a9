"""Polling a CAP feed from a real HTTP server: linked and embedded alerts, each read once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.server import free_port
from tests.unit.ingest._specs import MISSING, SPECS
from tocsin.ingest.cap import parse_cap
from tocsin.ingest.cap_poll import CapFeed, CapFeedPoller
from tocsin.model import Actor, EventIn

CAP = SPECS / "vectors" / "cap"


@pytest.mark.skipif(not CAP.is_dir(), reason=MISSING)
def test_feed_links_are_fetched_once_and_bad_alerts_skipped() -> None:
    alert = (CAP / "v1dot2_appendix_adot1.xml").read_bytes()
    end = alert.rindex(b"</alert>")
    big = alert[:end] + b"<!--" + b" padding " * 66_000 + b"-->" + alert[end:]
    fetched: list[str] = []

    async def main() -> list[EventIn]:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        feed = (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>'
            "<updated>2026-11-23T00:00:00Z</updated>"
            f"<entry><id>urn:a</id><title>a</title><updated>2026-11-23T00:00:00Z</updated>"
            f'<link rel="alternate" type="application/cap+xml" href="{base}/alerts/a.xml"/></entry>'
            f"<entry><id>urn:b</id><title>b</title><updated>2026-11-23T00:00:00Z</updated>"
            f'<link rel="alternate" type="application/cap+xml" href="{base}/alerts/bad.xml"/></entry>'
            f"<entry><id>urn:c</id><title>c</title><updated>2026-11-23T00:00:00Z</updated>"
            f'<link rel="alternate" type="application/cap+xml" href="{base}/alerts/big.xml"/></entry>'
            "</feed>"
        ).encode()

        async def serve_feed(request: web.Request) -> web.Response:
            return web.Response(body=feed, content_type="application/atom+xml")

        async def serve_alert(request: web.Request) -> web.StreamResponse:
            fetched.append(request.match_info["name"])
            if request.match_info["name"] == "big.xml":  # 600 kB, arriving in pieces: must be read whole
                response = web.StreamResponse(headers={"Content-Type": "application/cap+xml"})
                await response.prepare(request)
                for start in range(0, len(big), 32 * 1024):
                    await response.write(big[start : start + 32 * 1024])
                    await asyncio.sleep(0.002)
                await response.write_eof()
                return response
            body = alert if request.match_info["name"] == "a.xml" else b"<alert>not cap</alert>"
            return web.Response(body=body, content_type="application/cap+xml")

        app = web.Application()
        app.router.add_get("/feed", serve_feed)
        app.router.add_get("/alerts/{name}", serve_alert)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        received: list[EventIn] = []

        async def accept(items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None) -> None:
            assert actor.name == "cap:met-office" and raw is not None and "<alert" in (raw[0] or "")
            received.extend(items)

        poller = CapFeedPoller(CapFeed(url=f"{base}/feed", name="met-office"), accept)
        async with aiohttp.ClientSession() as session:
            await poller.poll(session)
            await poller.poll(session)  # the second round fetches nothing again
        await runner.cleanup()
        return received

    received = asyncio.run(main())
    assert sorted(fetched) == ["a.xml", "bad.xml", "big.xml"]  # each link once across two rounds
    per_alert = len(parse_cap(alert))
    assert per_alert >= 1 and len(received) == 2 * per_alert  # a.xml and the whole of big.xml
    assert all(e.type.startswith("cap.") for e in received)
