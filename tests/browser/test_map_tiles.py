"""With a tile source configured, the map is Leaflet (built from npm, served by tocsin) over those tiles."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD, Session
from tests.e2e.server import ServerProcess

# a 1x1 PNG: enough for Leaflet to count a tile as loaded
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


class TileServer:
    """A local tile source that records which tiles were asked for."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "image/png")
                self.send_header("content-length", str(len(PIXEL)))
                self.end_headers()
                self.wfile.write(PIXEL)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    t = TileServer()
    yield t
    t.close()


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory, tiles: TileServer) -> Iterator[ServerProcess]:
    config = f'[console]\ntiles = "{tiles.url}/{{z}}/{{x}}/{{y}}.png"\nattribution = "Test tiles"\n'
    srv = ServerProcess(tmp_path_factory.mktemp("tiled"), config)
    srv.start()
    with srv.client("admin") as admin:
        r = admin.post("/api/v1/users", json={"username": "op.map", "password": PASSWORD, "role": "operator"})
        assert r.status_code == 201
    yield srv
    srv.stop()


def test_a_configured_tile_source_draws_the_basemap(browser: Browser, tiled: ServerProcess, tiles: TileServer) -> None:
    event = {
        "type": "fire.smoke",
        "method": "equipment",
        "source": "p",
        "site": "s",
        "location": {"lat": 52.5, "lon": 13.4},
    }
    with tiled.client("device") as dev:
        incident_id = dev.post("/api/v1/events", json=event).json()["events"][0]["incident_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        session = Session(context, tiled.url)
        session.login("op.map")
        page = session.ready("/console/map")
        expect(page.locator("#map")).to_have_attribute("data-mode", "tiles")
        expect(page.locator(".leaflet-container")).to_have_count(1)  # Leaflet, from the npm build
        expect(page.locator(f"#map-list [data-incident-id='{incident_id}']")).to_be_visible()
        expect(page.locator("#map .mv-attrib")).to_contain_text("Test tiles")
        page.wait_for_timeout(500)
        assert tiles.requests and all(p.endswith(".png") for p in tiles.requests)
        assert not session.errors
    finally:
        context.close()
