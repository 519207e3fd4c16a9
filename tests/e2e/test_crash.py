"""kill -9 while clients post: every 202 survives, nothing is duplicated, correlation resumes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.server import ServerProcess
from tocsin.store.schema import events, incidents
from tocsin.store.sqlite import open_database

pytestmark = pytest.mark.e2e

SITES = [f"tower-{i}" for i in range(8)]
TYPES = ["fire.smoke", "intrusion.burglary", "utility.water_leak"]


def _event(client: int, n: int) -> dict[str, Any]:
    return {
        "type": TYPES[n % len(TYPES)],
        "method": "equipment",
        "source": f"panel-{client}",
        "site": SITES[(n * 7 + client) % len(SITES)],
        "external_id": f"c{client}-{n}",
    }


def test_kill_9_loses_no_acknowledged_event(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path)
    token = srv.token("device")
    srv.start()
    acked: dict[str, tuple[int, int | None]] = {}
    sent: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(cid: int) -> None:
        n = 0
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=5) as c:
            while not stop.is_set():
                batch = [_event(cid, n + k) for k in range(1 if cid % 2 else 20)]
                n += len(batch)
                with lock:
                    sent.extend(batch)
                try:
                    r = c.post("/api/v1/events", json=batch)
                except httpx.HTTPError:
                    return  # the server died under us: this request was never acknowledged
                if r.status_code == 202:
                    with lock:
                        for ev, ids in zip(batch, r.json()["events"], strict=True):
                            acked[ev["external_id"]] = (ids["id"], ids["incident_id"])

    srv.kill_under_load(client, range(6), stop)
    assert len(acked) > 100, "the load never got going"

    db = open_database(srv.db)
    try:
        with db.read_engine.connect() as conn:
            rows = conn.execute(select(events.c.external_id, events.c.id, events.c.incident_id)).all()
            stored = {ext: (eid, inc) for ext, eid, inc in rows}
            assert len(stored) == len(rows), "an external_id was stored twice"
            for ext, ids in acked.items():
                assert stored.get(ext) == ids, f"acknowledged event {ext} lost or changed"
            per_key = conn.execute(
                select(incidents.c.alarm_type, incidents.c.site, func.count()).group_by(
                    incidents.c.alarm_type, incidents.c.site
                )
            ).all()
            assert all(count == 1 for _, _, count in per_key), "an incident was duplicated"
    finally:
        db.close()

    # Restart and replay everything the clients sent, as a client retrying would.
    srv.start()
    try:
        with srv.client("device") as c:
            for start in range(0, len(sent), 200):
                chunk = sent[start : start + 200]
                r = c.post("/api/v1/events", json=chunk)
                assert r.status_code == 202
                for ev, ids in zip(chunk, r.json()["events"], strict=True):
                    if ev["external_id"] in acked:
                        assert (ids["id"], ids["incident_id"]) == acked[ev["external_id"]]
        db = open_database(srv.db)
        try:
            with db.read_engine.connect() as conn:
                total = conn.execute(select(func.count()).select_from(events)).scalar_one()
                keys = conn.execute(
                    select(func.count()).select_from(
                        select(incidents.c.alarm_type, incidents.c.site).distinct().subquery()
                    )
                ).scalar_one()
                n_incidents = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        finally:
            db.close()
        assert total == len({e["external_id"] for e in sent})
        assert n_incidents == keys  # the rebuilt index joined replays to the open incidents
    finally:
        srv.stop()
