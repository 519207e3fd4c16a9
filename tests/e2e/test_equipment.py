"""Equipment over HTTP: camera and CAP vectors posted to a real server end in the expected incidents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.e2e

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "vectors"
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"shared vectors not found at {VECTORS}")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("equip"), "retention_interval_s = 0\n")
    for role in ("device", "operator", "auditor"):
        server.token(role)
    server.start()
    yield server
    server.stop()


def _incident(srv: ServerProcess, incident_id: int) -> dict[str, object]:
    with srv.client("operator") as op:
        body: dict[str, object] = op.get(f"/api/v1/incidents/{incident_id}").json()
        return body


@needs_vectors
def test_hikvision_line_crossing_opens_mapped_incident(srv: ServerProcess) -> None:
    body = (VECTORS / "hikvision" / "hn_fielddetection_human.xml").read_bytes()
    with srv.client("device") as dev:
        r = dev.post("/api/v1/ingest/hikvision?site=depot-3", content=body, headers={"content-type": "application/xml"})
    assert r.status_code == 202, r.text
    inc = _incident(srv, r.json()["events"][0]["incident_id"])
    assert inc["site"] == "depot-3" and inc["alarm_type"] in {"intrusion.perimeter", "security.camera_intrusion_line"}


@needs_vectors
def test_anpr_plate_is_dropped_before_storage(srv: ServerProcess) -> None:
    body = (VECTORS / "hikvision" / "hn_anpr_plate_detected.xml").read_bytes()
    with srv.client("device") as dev:
        r = dev.post("/api/v1/ingest/hikvision?site=gate", content=body, headers={"content-type": "application/xml"})
    assert r.status_code == 202, r.text
    inc = _incident(srv, r.json()["events"][0]["incident_id"])
    assert "KH35192" not in httpx.Response(200, json=inc).text
    assert "tocsin_adapter_dropped_fields_total" in httpx.get(f"{srv.url}/metrics").text


@needs_vectors
def test_videoloss_heartbeat_opens_nothing(srv: ServerProcess) -> None:
    body = (VECTORS / "hikvision" / "issue_isapi_org_videoloss_heartbeat_empty_channel.xml").read_bytes()
    with srv.client("device") as dev:
        r = dev.post("/api/v1/ingest/hikvision", content=body, headers={"content-type": "application/xml"})
    assert r.status_code == 202 and r.json()["accepted"] == 0 and r.json()["heartbeats"] == 1


@needs_vectors
def test_onvif_motion_notify_is_kept_as_unclassified(srv: ServerProcess) -> None:
    body = (VECTORS / "onvif" / "SYNTH_notify_cellmotion_changed_true.xml").read_bytes()
    with srv.client("device") as dev:
        r = dev.post("/api/v1/ingest/onvif?site=lobby", content=body, headers={"content-type": "application/soap+xml"})
    assert r.status_code == 202, r.text
    inc = _incident(srv, r.json()["events"][0]["incident_id"])
    assert inc["alarm_type"] == "unclassified" and str(inc["unmapped_type"]).startswith("onvif.")


def test_malformed_and_hostile_xml_is_a_clear_4xx(srv: ServerProcess) -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>'
    with srv.client("device") as dev:
        for path in ("/api/v1/ingest/hikvision", "/api/v1/ingest/onvif", "/api/v1/ingest/cap"):
            for body in (b"<not xml", laughs):
                r = dev.post(path, content=body, headers={"content-type": "application/xml"})
                assert 400 <= r.status_code < 500 and r.json()["detail"], (path, body[:10])
        assert httpx.get(f"{srv.url}/healthz").status_code == 200


@needs_vectors
def test_cap_alert_in_and_incident_out(srv: ServerProcess) -> None:
    lxml = pytest.importorskip("lxml.etree")
    body = (VECTORS / "cap" / "v1dot2_appendix_adot3.xml").read_bytes()
    with srv.client("device") as dev:
        r = dev.post("/api/v1/ingest/cap", content=body, headers={"content-type": "application/xml"})
    assert r.status_code == 202, r.text
    incident_id = r.json()["events"][0]["incident_id"]
    with srv.client("operator") as op:
        xml = op.get(f"/api/v1/incidents/{incident_id}/cap")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/cap+xml")
    schema = lxml.XMLSchema(lxml.parse(str(VECTORS / "cap" / "CAP-v1.2.xsd")))
    doc = lxml.fromstring(xml.content)
    assert schema.validate(doc), schema.error_log
    assert b"-00:00" in xml.content and b"Z</" not in xml.content
    with srv.client("auditor") as aud:
        recs = aud.get("/api/v1/audit/records", params={"limit": 1000}).json()["records"]
    assert any(r["action"] == "incident.export_cap" for r in recs)


def _comm_failures(srv: ServerProcess) -> list[dict[str, object]]:
    with srv.client("operator") as op:
        items: list[dict[str, object]] = op.get(
            "/api/v1/incidents", params={"type": "tech.comm_failure", "state": "open"}
        ).json()["items"]
        return items


def _wait(srv: ServerProcess, condition: str, timeout: float = 15.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = _comm_failures(srv)
        if items and items[0]["condition"] == condition:
            return items
        time.sleep(0.2)
    raise AssertionError(f"no {condition} comm failure within {timeout} s: {_comm_failures(srv)}")


HEARTBEAT = (
    b'<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
    b"<macAddress>c0:6d:ed:0c:cc:ee</macAddress><eventType>videoloss</eventType>"
    b"<eventState>inactive</eventState></EventNotificationAlert>"
)


def _push_camera_server(root: Path) -> ServerProcess:
    server = ServerProcess(
        root,
        'retention_interval_s = 0\n[[push_camera]]\nvendor = "hikvision"\ndevice = "C0:6D:ED:0C:CC:EE"\n'
        'supervision_s = 1\nsite = "depot-3"\nname = "gate"\n',
    )
    server.token("device")
    server.token("operator")
    return server


def _heartbeat(server: ServerProcess) -> dict[str, object]:
    with server.client("device") as dev:
        r = dev.post("/api/v1/ingest/hikvision", content=HEARTBEAT, headers={"content-type": "application/xml"})
        assert r.status_code == 202, r.text
        body: dict[str, object] = r.json()
        return body


def test_pushing_camera_that_falls_silent_raises_comm_failure_and_clears_on_its_heartbeat(tmp_path: Path) -> None:
    server = _push_camera_server(tmp_path)
    server.start()
    try:
        assert _heartbeat(server)["heartbeats"] == 1
        (down,) = _wait(server, "active")  # 1 s period + 5 s grace, then silence is a fault
        assert (down["site"], down["priority"]) == ("depot-3", 3)
        _heartbeat(server)
        (up,) = _wait(server, "cleared")
        assert up["id"] == down["id"]
    finally:
        server.stop()


def test_an_outage_open_at_shutdown_is_cleared_by_the_cameras_return_after_the_restart(tmp_path: Path) -> None:
    server = _push_camera_server(tmp_path)
    server.start()
    try:
        (down,) = _wait(server, "active")
    finally:
        server.stop()
    server.start()
    try:
        _heartbeat(server)
        (up,) = _wait(server, "cleared")
        assert up["id"] == down["id"] and up["event_count"] == 2  # the same outage ended, no second one opened
    finally:
        server.stop()
