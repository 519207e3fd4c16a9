"""The handling state machine and the actions that drive it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import SyncEngine
from tests.unit.engine.test_correlate import ev
from tocsin.engine.actions import ActionResult, action_job
from tocsin.engine.lifecycle import TRANSITIONS, allowed_actions, next_state
from tocsin.errors import Conflict, IllegalTransition, InvalidRequest, NotFound
from tocsin.model import ACTIONS, ActionRequest, Actor, Handling
from tocsin.store import repo
from tocsin.store.schema import events

OP = Actor(name="op-anna", role="operator")


def act(engine: SyncEngine, incident_id: int, action: str, **kw: object) -> ActionResult:
    req = ActionRequest(action=action, **kw)  # type: ignore[arg-type]
    result: ActionResult = engine.writer.run_blocking(action_job(engine.state, incident_id, req, OP, now_us=5))
    return result


def test_every_action_has_a_rule() -> None:
    assert set(TRANSITIONS) == set(ACTIONS)


@pytest.mark.parametrize("state", [h.value for h in Handling])
@pytest.mark.parametrize("action", ACTIONS)
def test_next_state_or_409_naming_allowed(state: str, action: str) -> None:
    if action in allowed_actions(state):
        assert next_state(state, action) in {h.value for h in Handling}
    else:
        with pytest.raises(IllegalTransition) as info:
            next_state(state, action)
        assert info.value.status_code == 409
        assert info.value.allowed == sorted(allowed_actions(state))


def test_nothing_closes_unseen_and_merged_is_terminal() -> None:
    assert "close" not in allowed_actions("new")
    assert allowed_actions("merged") == ["note"]
    assert allowed_actions("closed") == ["note"]


def test_full_lifecycle_writes_timeline(engine: SyncEngine) -> None:
    [(_, inc)] = engine.ingest([ev()])
    assert inc is not None
    for action in ("acknowledge", "dispatch", "resolve", "reopen", "resolve"):
        act(engine, inc, action, text=f"why {action}")
    done = act(engine, inc, "close", disposition="false_alarm")
    assert done.incident.handling == "closed" and done.incident.disposition == "false_alarm"
    assert done.incident.assignee == "op-anna"  # acknowledging takes ownership
    with engine.db.read_engine.connect() as conn:
        tl = repo.incident_timeline(conn, inc)
    assert [(t.action, t.from_state, t.to_state) for t in tl] == [
        ("open", None, "new"),
        ("acknowledge", "new", "acknowledged"),
        ("dispatch", "acknowledged", "dispatched"),
        ("resolve", "dispatched", "resolved"),
        ("reopen", "resolved", "acknowledged"),
        ("resolve", "acknowledged", "resolved"),
        ("close", "resolved", "closed"),
    ]
    assert all(t.actor == "op-anna" for t in tl[1:])
    assert inc not in engine.state.index


def test_closed_incident_no_longer_absorbs_events(engine: SyncEngine) -> None:
    [(_, inc)] = engine.ingest([ev(at=0)])
    assert inc is not None
    act(engine, inc, "acknowledge")
    act(engine, inc, "close", disposition="founded")
    [(_, again)] = engine.ingest([ev(at=1)])
    assert again != inc


@pytest.mark.parametrize(
    ("action", "field"),
    [("close", "disposition"), ("assign", "assignee"), ("note", "text"), ("merge", "into")],
)
def test_missing_field_is_a_clear_422(engine: SyncEngine, action: str, field: str) -> None:
    [(_, inc)] = engine.ingest([ev()])
    assert inc is not None
    act(engine, inc, "acknowledge")
    with pytest.raises(InvalidRequest, match=field):
        act(engine, inc, action)


def test_unknown_incident_is_404(engine: SyncEngine) -> None:
    with pytest.raises(NotFound):
        act(engine, 999, "acknowledge")


def test_merge_moves_events_and_points_at_survivor(engine: SyncEngine) -> None:
    r = engine.ingest([ev(site="a"), ev(site="a"), ev(site="b")])
    a, b = r[0][1], r[2][1]
    assert a is not None and b is not None
    result = act(engine, b, "merge", into=a, text="same fire")
    assert result.incident.handling == "merged" and result.incident.merged_into == a
    with engine.db.read_engine.connect() as conn:
        survivor = repo.get_incident(conn, a)
        moved = conn.execute(select(events.c.incident_id)).scalars().all()
    assert survivor is not None and survivor.event_count == 3
    assert set(moved) == {a}
    assert b not in engine.state.index
    with pytest.raises(Conflict):
        act(engine, a, "merge", into=b)


def test_detach_moves_one_event_into_a_new_incident(engine: SyncEngine) -> None:
    r = engine.ingest([ev(), ev(), ev()])
    inc, event_id = r[0][1], r[1][0]
    assert inc is not None
    result = act(engine, inc, "detach", event_id=event_id)
    new_id = result.new_incident_id
    assert new_id is not None and new_id != inc
    assert result.incident.event_count == 2
    with engine.db.read_engine.connect() as conn:
        fresh = repo.get_incident(conn, new_id)
        assert fresh is not None and fresh.event_count == 1 and fresh.handling == "new"
    with pytest.raises(InvalidRequest):
        act(engine, inc, "detach", event_id=event_id)  # no longer part of it
    act(engine, inc, "detach", event_id=r[2][0])
    with pytest.raises(Conflict):
        act(engine, inc, "detach", event_id=r[0][0])  # the last one stays
