"""Incident-to-event links: whatever ingest, linking, merge, detach and retention do, the
events an incident is read to have are exactly the events that name it."""

from __future__ import annotations

import contextlib
import tempfile
from collections import defaultdict
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Connection, func, select

from tests.conftest import SyncEngine
from tests.unit.engine.test_correlate import ev
from tocsin.engine.actions import action_job
from tocsin.errors import TocsinError
from tocsin.model import ActionRequest, Actor
from tocsin.store import links, repo
from tocsin.store.schema import event_links, events, incidents
from tocsin.store.sqlite import open_database
from tocsin.store.writer import Tx

OP = Actor(name="op", role="operator")

# One step: ("ingest", sites), ("link",), ("merge", a, b), ("detach", incident pick, event pick)
_step = st.one_of(
    st.tuples(st.just("ingest"), st.lists(st.integers(0, 4), min_size=1, max_size=6)),
    st.tuples(st.just("link")),
    st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("detach"), st.integers(0, 50), st.integers(0, 50)),
)


def _truth(conn: Connection) -> dict[int, list[int]]:
    """Events per incident by a full scan of ``events``: what the links must agree with."""
    found: dict[int, list[int]] = defaultdict(list)
    for event_id, incident_id in conn.execute(select(events.c.id, events.c.incident_id).order_by(events.c.id)):
        if incident_id is not None:
            found[incident_id].append(event_id)
    return found


def _check(conn: Connection) -> None:
    truth = _truth(conn)
    mark = links.linked_through(conn)
    linked = {(i, e) for i, e in conn.execute(select(event_links.c.incident_id, event_links.c.event_id))}
    assert linked == {(i, e) for i, ids in truth.items() for e in ids if e <= mark}
    for (incident_id,) in conn.execute(select(incidents.c.id)):
        ids = truth.get(incident_id, [])
        assert sorted(conn.execute(links.event_ids_of(incident_id)).scalars()) == ids
        assert links.newest_event_ids(conn, incident_id, 3) == ids[::-1][:3]
        first = conn.execute(select(links.first_event_id(incident_id))).scalar_one()
        assert first == (ids[0] if ids else None)
        assert [e.id for e in repo.incident_events(conn, incident_id, 2)] == ids[::-1][:2]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=14))
def test_links_and_tail_always_name_the_events_of_each_incident(tmp_path: Path, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    db = open_database(Path(tempfile.mkdtemp(dir=tmp_path)) / "links.db", synchronous="OFF")
    try:
        engine = SyncEngine(db)
        at = 0
        for step in steps:
            if step[0] == "ingest":
                at += 1
                engine.ingest([ev(site=f"s{n}", at=at, source=f"d{n}") for n in step[1]])
            elif step[0] == "link":
                engine.writer.run_blocking(engine.state.link)
            else:
                with db.read_engine.connect() as conn:
                    truth = _truth(conn)
                    open_ids = sorted(truth)
                if not open_ids:
                    continue
                a = open_ids[step[1] % len(open_ids)]
                if step[0] == "merge":
                    req = ActionRequest(action="merge", into=open_ids[step[2] % len(open_ids)])
                else:
                    req = ActionRequest(action="detach", event_id=truth[a][step[2] % len(truth[a])])
                with contextlib.suppress(TocsinError):  # refused (into itself, its only event): no change
                    engine.writer.run_blocking(action_job(engine.state, a, req, OP, now_us=at))
            with db.read_engine.connect() as conn:
                _check(conn)
    finally:
        db.close()


def test_linking_moves_the_mark_to_the_newest_event_and_is_idempotent(engine: SyncEngine) -> None:
    engine.ingest([ev(site=f"s{n}", source=f"d{n}") for n in range(5)])
    assert engine.state.unlinked() == 5
    assert engine.writer.run_blocking(engine.state.link) == 5
    assert engine.state.unlinked() == 0
    assert engine.writer.run_blocking(engine.state.link) == 0
    with engine.db.read_engine.connect() as conn:
        assert links.linked_through(conn) == conn.execute(select(func.max(events.c.id))).scalar_one()


def test_loading_the_engine_links_the_tail_first(engine: SyncEngine) -> None:
    engine.ingest([ev(site=f"s{n}", source=f"d{n}") for n in range(3)])

    def mark(tx: Tx) -> int:
        return links.linked_through(tx.conn)

    assert engine.writer.run_blocking(mark) == 0
    again = SyncEngine(engine.db)  # a restart: bootstrap reloads
    assert engine.writer.run_blocking(mark) == 3
    assert again.state.unlinked() == 0
