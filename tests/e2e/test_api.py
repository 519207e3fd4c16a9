"""The HTTP API against a real server process on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import Receiver, ServerProcess

pytestmark = pytest.mark.e2e

FIRE = {"type": "fire.smoke", "method": "equipment", "source": "panel-7", "site": "school-12"}


def test_event_becomes_incident_with_events_and_timeline(server: ServerProcess) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        r = dev.post("/api/v1/events", json=[FIRE, {**FIRE, "description": "second detector"}])
        assert r.status_code == 202
        body = r.json()
        assert body["accepted"] == 2
        (e1, e2) = body["events"]
        assert e1["incident_id"] == e2["incident_id"] and e1["id"] < e2["id"]
        inc = op.get(f"/api/v1/incidents/{e1['incident_id']}").json()
        assert inc["event_count"] == 2 and len(inc["events"]) == 2
        assert inc["alarm_type"] == "fire.smoke" and inc["handling"] == "new" and inc["priority"] == 1
        assert inc["timeline"][0]["action"] == "open"
        assert "acknowledge" in inc["allowed_actions"]


def test_single_object_and_ndjson(server: ServerProcess) -> None:
    with server.client("device") as dev:
        assert dev.post("/api/v1/events", json=FIRE).json()["accepted"] == 1
        nd = (
            b'{"type":"medical.fall","method":"call","source":"call-1"}\n'
            b'{"type":"x.y","method":"on_duty","source":"o1"}\n'
        )
        r = dev.post("/api/v1/events", content=nd, headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 202 and r.json()["accepted"] == 2


def test_invalid_batch_stores_nothing_and_names_every_item(server: ServerProcess) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        r = dev.post("/api/v1/events", json=[FIRE, {**FIRE, "method": "fax"}, {**FIRE, "site": 5}])
        assert r.status_code == 422
        errs = r.json()["errors"]
        assert [(e["index"], e["path"]) for e in errs] == [(1, "$.method"), (2, "$.site")]
        assert op.get("/api/v1/incidents", params={"state": "open"}).json()["items"] == []


def test_body_over_limit_is_413_and_item_limit_too(server: ServerProcess) -> None:
    with server.client("device") as dev:
        r = dev.post("/api/v1/events", json=[{**FIRE, "description": "x" * 4000}] * 20)
        assert r.status_code == 413
        r = dev.post("/api/v1/events", json=[{"type": "a", "method": "call", "source": "s"}] * 501)
        assert r.status_code == 413 and "500" in r.json()["detail"]


def test_repeated_external_id_returns_original_ids(server: ServerProcess) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        first = dev.post("/api/v1/events", json={**FIRE, "external_id": "seq-1"}).json()["events"][0]
        again = dev.post("/api/v1/events", json=[{**FIRE, "external_id": "seq-1"}, FIRE]).json()["events"]
        assert again[0] == first
        inc = op.get(f"/api/v1/incidents/{first['incident_id']}").json()
        assert inc["event_count"] == 2


def test_illegal_action_is_409_naming_allowed(server: ServerProcess) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        inc = dev.post("/api/v1/events", json=FIRE).json()["events"][0]["incident_id"]
        r = op.post(f"/api/v1/incidents/{inc}/actions", json={"action": "close", "disposition": "founded"})
        assert r.status_code == 409
        assert r.json()["allowed"] == ["acknowledge", "assign", "detach", "merge", "note", "sop"]
        r = op.post(f"/api/v1/incidents/{inc}/actions", json={"action": "acknowledge"})
        assert r.status_code == 200
        assert r.json()["incident"]["handling"] == "acknowledged"
        r = op.post(f"/api/v1/incidents/{inc}/actions", json={"action": "close"})
        assert r.status_code == 422 and "disposition" in r.json()["detail"]
        r = op.post(f"/api/v1/incidents/{inc}/actions", json={"action": "fly"})
        assert r.status_code == 400


def test_list_filters_and_cursor_pagination(server: ServerProcess) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        sites = [f"site-{i}" for i in range(7)]
        dev.post("/api/v1/events", json=[{**FIRE, "site": s} for s in sites])
        dev.post(
            "/api/v1/events",
            json={"type": "tech.low_battery", "method": "equipment", "source": "x", "site": "z"},
        )
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, "type": "fire.smoke", "state": "open", "order": "queue"}
            if cursor:
                params["cursor"] = cursor
            page = op.get("/api/v1/incidents", params=params).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert len(seen) == 7 == len(set(seen))
        low = op.get("/api/v1/incidents", params={"priority": "4", "state": "open"}).json()["items"]
        assert [i["alarm_type"] for i in low] == ["tech.low_battery"]
        assert op.get("/api/v1/incidents", params={"state": "bogus"}).status_code == 422
        assert op.get("/api/v1/incidents", params={"cursor": "nonsense!"}).status_code == 422
        site3 = op.get("/api/v1/incidents", params={"site": "site-3", "state": "open"}).json()["items"]
        assert site3[0]["site"] == "site-3"


def test_sse_stream_sees_new_incident(server: ServerProcess) -> None:
    got: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with server.client("operator", timeout=10) as op, op.stream("GET", "/api/v1/stream") as resp:
            for line in resp.iter_lines():
                ready.set()
                if line.startswith("event: incident.opened"):
                    got.append(line)
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(5)
    started = time.monotonic()
    with server.client("device") as dev:
        dev.post("/api/v1/events", json=FIRE)
    t.join(5)
    assert got and time.monotonic() - started < 1.0


def test_webhook_gets_new_incident_and_state_change(server: ServerProcess, receiver: Receiver) -> None:
    with server.client("device") as dev, server.client("operator") as op:
        inc = dev.post("/api/v1/events", json=FIRE).json()["events"][0]["incident_id"]
        op.post(f"/api/v1/incidents/{inc}/actions", json={"action": "acknowledge"})
    got = receiver.wait_for(2)
    assert [(g["event"], g["incident"]["id"]) for g in got] == [
        ("incident.opened", inc),
        ("incident.state_changed", inc),
    ]
    assert got[1]["incident"]["handling"] == "acknowledged"


def test_webhook_retries_after_failure(server: ServerProcess, receiver: Receiver) -> None:
    receiver.failures_left = 2
    with server.client("device") as dev:
        dev.post("/api/v1/events", json=FIRE)
    got = receiver.wait_for(1, timeout=15)
    assert len(got) == 1 and receiver.failures_left == 0


def test_pending_webhook_survives_restart(tmp_path: Path) -> None:
    receiver = Receiver()
    url = receiver.url
    receiver.close()  # nobody listens: deliveries stay pending
    srv = ServerProcess(tmp_path, f'[[webhook]]\nurl = "{url}"\nmax_attempts = 50\n')
    srv.start()
    try:
        with srv.client("device") as dev:
            dev.post("/api/v1/events", json=FIRE)
        time.sleep(0.3)
        srv.kill()
        # The receiver comes back on the same port; the restarted server delivers.
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        back = Receiver(port)
        try:
            srv.start()
            got = back.wait_for(1, timeout=10)
            assert [g["event"] for g in got] == ["incident.opened"]
        finally:
            back.close()
    finally:
        srv.stop()


ROLE_MATRIX: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    # (method, path, body, {role: expected status})
    ("POST", "/api/v1/events", FIRE, {"admin": 202, "operator": 202, "device": 202}),
    ("GET", "/api/v1/incidents?state=open", None, {"admin": 200, "operator": 200, "device": 403}),
    ("GET", "/api/v1/incidents/1", None, {"admin": 200, "operator": 200, "device": 403}),
    (
        "POST",
        "/api/v1/incidents/1/actions",
        {"action": "note", "text": "n"},
        {"admin": 200, "operator": 200, "device": 403},
    ),
    ("GET", "/api/v1/alarm-types", None, {"admin": 200, "operator": 200, "device": 403}),
    ("POST", "/api/v1/alarm-types", None, {"admin": 201, "operator": 403, "device": 403}),
]


def test_role_matrix(server: ServerProcess) -> None:
    with server.client("device") as dev:
        dev.post("/api/v1/events", json=FIRE)
    for n, (method, path, body, expected) in enumerate(ROLE_MATRIX):
        with httpx.Client(base_url=server.url) as anon:
            assert anon.request(method, path, json=body).status_code == 401, path
            bad = anon.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401, path
        for role, status in expected.items():
            body_for: dict[str, Any] | None = body
            if body is None and path == "/api/v1/alarm-types" and method == "POST":
                body_for = {
                    "code": f"9{n}{role[:2]}",
                    "key": f"test.{role}",
                    "name": "Test",
                    "category": "Other",
                    "priority": 3,
                    "sop": ["Check it."],
                }
            with server.client(role) as c:
                assert c.request(method, path, json=body_for).status_code == status, (method, path, role)


def test_alarm_type_conflict_and_validation(server: ServerProcess) -> None:
    with server.client("admin") as admin:
        t = {
            "code": "X1",
            "key": "test.thing",
            "name": "Thing",
            "category": "Other",
            "priority": 2,
            "sop": ["Do."],
        }
        assert admin.post("/api/v1/alarm-types", json=t).status_code == 201
        r = admin.post("/api/v1/alarm-types", json=t)
        assert r.status_code == 409 and "code" in r.json()["detail"]
        assert admin.post("/api/v1/alarm-types", json={**t, "code": "X2", "priority": 9}).status_code == 400
        inc = admin.post("/api/v1/events", json={**FIRE, "type": "X1"}).json()["events"][0]["incident_id"]
        assert admin.get(f"/api/v1/incidents/{inc}").json()["alarm_type"] == "test.thing"


def test_openapi_health_and_metrics(server: ServerProcess) -> None:
    doc = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert "/api/v1/events" in doc["paths"] and "/api/v1/incidents/{incident_id}/actions" in doc["paths"]
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    with server.client("device") as dev:
        dev.post("/api/v1/events", json=[FIRE, FIRE])
    text = httpx.get(f"{server.url}/metrics").text
    assert 'tocsin_events_received_total{exercise="false",method="equipment"} 2.0' in text
    assert "tocsin_commit_batch_events_bucket" in text
    assert 'tocsin_incidents_opened_total{exercise="false",priority="1"} 1.0' in text


def test_cli_token_create_prints_only_the_token(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "tocsin", "token", "create", "--db", str(tmp_path / "c.db")]
    out = subprocess.run([*base, "--role", "operator", "--name", "night shift"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and out.stdout.startswith("tcs_")
    bad = subprocess.run([*base, "--role", "wizard", "--name", "x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "role" in bad.stderr


def test_unmapped_vendor_code_is_listed_then_mapped(server: ServerProcess) -> None:
    vendor = {"type": "acme.zone_alarm_7", "method": "equipment", "source": "acme-1", "site": "plant"}
    with server.client("device") as dev, server.client("admin") as admin:
        first = dev.post("/api/v1/events", json=vendor).json()["events"][0]["incident_id"]
        assert admin.get(f"/api/v1/incidents/{first}").json()["alarm_type"] == "unclassified"
        table = admin.get("/api/v1/mappings").json()
        assert {"vendor_code": "acme.zone_alarm_7", "incidents": 1} in table["unmapped"]
        r = admin.put("/api/v1/mappings/acme.zone_alarm_7", json={"alarm_type": "intrusion.burglary"})
        assert r.status_code == 200 and r.json()["alarm_type"] == "intrusion.burglary"
        assert admin.put("/api/v1/mappings/acme.x", json={"alarm_type": "no.such"}).status_code == 422
        assert admin.put("/api/v1/mappings/protest.march", json={"alarm_type": "crime.theft"}).status_code == 422
        second = dev.post("/api/v1/events", json={**vendor, "site": "plant-2"}).json()["events"][0]["incident_id"]
        assert admin.get(f"/api/v1/incidents/{second}").json()["alarm_type"] == "intrusion.burglary"
        table = admin.get("/api/v1/mappings").json()
        assert all(u["vendor_code"] != "acme.zone_alarm_7" for u in table["unmapped"])
