"""The engine's urgent lane: a panel's alarm or an operator's action is not queued behind bulk ingest."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from tests.conftest import held_writer
from tocsin.engine.engine import Engine
from tocsin.engine.state import EngineState
from tocsin.metrics import Metrics
from tocsin.model import ActionRequest, Actor, EventIn
from tocsin.store.schema import timeline
from tocsin.store.sqlite import Database

DEVICE = Actor(name="panel", role="device")
OPERATOR = Actor(name="op", role="operator")


def _event(site: str) -> EventIn:
    return EventIn(type="fire.smoke", method="equipment", source=f"dev-{site}", site=site)


def test_urgent_ingest_and_actions_run_before_bulk_ingest_queued_earlier(db: Database) -> None:
    writer = db.writer(max_pending=100_000, max_group_weight=5000)
    state = EngineState()
    writer.run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    engine = Engine(state, writer, Metrics())

    async def main() -> tuple[list[tuple[int, int | None]], list[tuple[int, int | None]]]:
        async with held_writer(writer):
            bulk = asyncio.ensure_future(engine.ingest([_event(f"b{i}") for i in range(50)], DEVICE))
            await asyncio.sleep(0.01)
            urgent = asyncio.ensure_future(engine.ingest([_event("panel")], DEVICE, urgent=True))
            acted = asyncio.ensure_future(engine.act(opened, ActionRequest(action="acknowledge"), OPERATOR))
            await asyncio.sleep(0.05)
        await acted
        return await bulk, await urgent

    writer.start()
    [(_, first)] = asyncio.run(engine.ingest([_event("s0")], DEVICE))
    assert first is not None
    opened: int = first
    try:
        bulk, urgent = asyncio.run(main())
    finally:
        writer.stop()
    # Ids are given out as jobs run: the alarm submitted last ran first.
    assert urgent[0][0] < min(event_id for event_id, _ in bulk)
    # And the acknowledgement's timeline entry precedes those of the incidents bulk opened.
    with db.read_engine.connect() as conn:
        entries = conn.execute(select(timeline.c.action, timeline.c.incident_id).order_by(timeline.c.id)).all()
    bulk_incidents = {incident_id for _, incident_id in bulk}
    acked = entries.index(("acknowledge", opened))
    assert all(entries.index(("open", incident_id)) > acked for incident_id in bulk_incidents)
