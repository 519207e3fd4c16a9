"""Which comm failures a restart finds still open, for the supervisors to resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.conftest import SyncEngine
from tocsin._internal.clock import to_us
from tocsin.ingest.supervision import COMM_FAILURE, EPISODE_MARK, comm_failure
from tocsin.model import OPEN_STATES, Condition, EventIn
from tocsin.store import repo
from tocsin.store.schema import incidents

T0 = datetime(2025, 3, 4, 5, 6, 7, 891_011, tzinfo=UTC)


def outage(source: str, site: str, condition: Condition, at: datetime) -> EventIn:
    return comm_failure(condition, at, source=source, site=site, description="d",
                        episode_key=f"{source}:supervision:{int(T0.timestamp())}")  # fmt: skip


def test_only_the_supervisors_own_active_episodes_in_open_incidents_are_found(engine: SyncEngine) -> None:
    later = T0 + timedelta(minutes=3)
    engine.ingest([outage("cam-a", "s1", "active", T0)])
    engine.ingest([outage("cam-b", "s2", "active", T0), outage("cam-b", "s2", "cleared", later)])
    panel_report = EventIn(type=COMM_FAILURE, method="equipment", source="sia:1", site="s3", occurred_at=T0,
                           external_id="1:5:0:abc")  # fmt: skip
    engine.ingest([panel_report])
    [(_, closed_id)] = engine.ingest([outage("cam-c", "s4", "active", T0)])
    # cam-d: down, back, and down again: the second episode is the open one
    engine.ingest([outage("cam-d", "s5", "active", T0), outage("cam-d", "s5", "cleared", later)])
    engine.ingest([comm_failure("active", later + timedelta(seconds=1), source="cam-d", site="s5", description="d",
                                episode_key="cam-d:supervision:2")])  # fmt: skip
    engine.writer.run_blocking(
        lambda tx: tx.conn.execute(update(incidents).where(incidents.c.id == closed_id).values(handling="closed"))
    )
    found = engine.writer.run_blocking(lambda tx: repo.open_episodes(tx.conn, COMM_FAILURE, OPEN_STATES, EPISODE_MARK))
    assert found == {"cam-a": to_us(T0), "cam-d": to_us(later + timedelta(seconds=1))}
