"""Frigate over MQTT: a throwaway Mosquitto, a real server subscribed to it, messages in, incidents out."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import httpx
import pytest

from tests.e2e.server import ServerProcess, free_port

pytestmark = pytest.mark.e2e

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "vectors" / "frigate"
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (make test installs it where it can)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    async def go() -> None:
        async with aiomqtt.Client("127.0.0.1", port=port) as client:
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1)

    asyncio.run(go())


def _open_incidents(srv: ServerProcess) -> list[dict[str, object]]:
    with srv.client("operator") as op:
        items: list[dict[str, object]] = op.get("/api/v1/incidents", params={"state": "open"}).json()["items"]
        return items


@pytest.mark.skipif(not VECTORS.is_dir(), reason=f"shared vectors not found at {VECTORS}")
def test_frigate_messages_become_incidents_without_identity(tmp_path: Path, broker: int) -> None:
    srv = ServerProcess(tmp_path, f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker}"\nforward = "all"\n')
    srv.token("operator")
    srv.start()
    try:
        time.sleep(0.5)  # let the subscriber connect
        _publish(broker, [("frigate/events", (VECTORS / "docs_events_1.json").read_bytes()),
                          ("frigate/reviews", (VECTORS / "docs_reviews_1.json").read_bytes()),
                          ("frigate/stats", b"{}")])  # fmt: skip
        deadline = time.monotonic() + 10
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(items) < 2:
            items = _open_incidents(srv)
            time.sleep(0.2)
        types = sorted(str(i.get("unmapped_type") or i["alarm_type"]) for i in items)
        assert types == ["frigate.person", "security.camera_intrusion_line"], types
        with srv.client("operator") as op:
            everything = op.get("/api/v1/incidents/1").text + op.get("/api/v1/incidents/2").text
        assert "John Smith" not in everything
        assert 'tocsin_adapter_dropped_fields_total{adapter="frigate"}' in httpx.get(f"{srv.url}/metrics").text
    finally:
        srv.stop()


def test_mapped_only_by_default_and_survives_broker_restart(tmp_path: Path, broker: int) -> None:
    srv = ServerProcess(tmp_path, f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker}"\n')
    srv.token("operator")
    srv.start()
    try:
        time.sleep(0.5)
        person = b'{"type":"new","before":{},"after":{"id":"1.0-a","camera":"gate","label":"person","score":0.9}}'
        _publish(broker, [("frigate/events", person)])
        time.sleep(1.0)
        assert _open_incidents(srv) == []  # a passer-by is not an alarm unless mapped
        assert httpx.get(f"{srv.url}/healthz").status_code == 200
    finally:
        srv.stop()
