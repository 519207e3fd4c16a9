"""Retention on a clock the test controls: what expires, what stays, what is recorded."""

from __future__ import annotations

import msgspec
from sqlalchemy import Table, func, select

from tests.conftest import SyncEngine
from tests.unit.engine.test_correlate import ev
from tocsin.audit.log import read_records
from tocsin.engine.actions import action_job
from tocsin.model import ActionRequest, Actor
from tocsin.retention import CLOSED_DAYS, UNATTACHED_DAYS, plan, purge_batch
from tocsin.store.schema import events, incidents, timeline

DAY = 86_400 * 1_000_000
T0 = 1_700_000_000_000_000
OP = Actor(name="op", role="operator")


def _purge(engine: SyncEngine, now: int) -> None:
    while True:
        job = purge_batch(now_us=now, actor="system", role="system", audit=engine.state.audit)
        if engine.writer.run_blocking(job).done:
            return


def _count(engine: SyncEngine, table: Table) -> int:
    with engine.db.read_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _close(engine: SyncEngine, incident_id: int, at: int) -> None:
    for req in (
        ActionRequest(action="acknowledge"),
        ActionRequest(action="close", disposition="false_alarm"),
    ):
        engine.writer.run_blocking(action_job(engine.state, incident_id, req, OP, now_us=at))


def test_closed_incidents_and_unattached_events_expire_on_schedule(engine: SyncEngine) -> None:
    closed = engine.ingest([ev(site="a"), ev(site="a")], received_us=T0)[0][1]
    still_open = engine.ingest([ev(site="b")], received_us=T0)[0][1]
    engine.ingest([ev(site="c", condition="cleared")], received_us=T0)  # restore with nothing open
    assert closed is not None and still_open is not None
    _close(engine, closed, T0)

    with engine.db.read_engine.connect() as conn:
        due = plan(conn, now_us=T0 + (UNATTACHED_DAYS - 1) * DAY)
    assert (due.unattached_events, due.incidents) == (0, 0)

    _purge(engine, T0 + (UNATTACHED_DAYS + 1) * DAY)
    assert _count(engine, events) == 3  # the unattached restore is gone, the rest stays
    assert _count(engine, incidents) == 2

    _purge(engine, T0 + (CLOSED_DAYS + 1) * DAY)
    with engine.db.read_engine.connect() as conn:
        left = list(conn.execute(select(incidents.c.id)).scalars())
        tl = conn.execute(select(func.count()).select_from(timeline).where(timeline.c.incident_id == closed))
        assert tl.scalar_one() == 0
        purges = [msgspec.json.decode(t) for t in read_records(conn)]
    assert left == [still_open]  # open incidents are never purged, however old
    assert _count(engine, events) == 1
    erasures = [r for r in purges if r["action"] == "retention.purge"]
    assert [r["operation"] for r in erasures] == ["erasure", "erasure"]
    assert erasures[0]["objects"] == {"events": [4]}
    assert erasures[1]["objects"] == {"incidents": [closed], "events": [[1, 2]]}
    assert erasures[1]["detail"]["events"] == 2


def test_per_type_retention_overrides_the_default(engine: SyncEngine) -> None:
    from sqlalchemy import update

    from tocsin.store.schema import alarm_types

    with engine.db.write_engine.begin() as conn:
        conn.execute(update(alarm_types).where(alarm_types.c.key == "fire.smoke").values(retention_days=10))
    inc = engine.ingest([ev()], received_us=T0)[0][1]
    assert inc is not None
    _close(engine, inc, T0)
    _purge(engine, T0 + 11 * DAY)
    assert _count(engine, incidents) == 0
