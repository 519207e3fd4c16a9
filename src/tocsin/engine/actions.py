"""Operator actions on an incident: the lifecycle applied, checked and written down.

Each action runs as one writer job: read the incident, check the transition and the
fields the action needs, write the change and an immutable timeline entry, queue the
notification, and keep the correlation index in step (an incident leaving the open
states stops absorbing events; a reopened or detached one starts).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import func, select, update

from tocsin.audit.log import AuditRecord, Operation
from tocsin.engine.lifecycle import allowed_actions, next_state
from tocsin.engine.state import Change, EngineState, OutboxItem
from tocsin.errors import Conflict, InvalidRequest, NotFound
from tocsin.model import OPEN_STATES, ActionRequest, Actor, Handling, Incident
from tocsin.store import links, repo
from tocsin.store.schema import events, incidents
from tocsin.store.writer import Tx

__all__ = ("ActionResult", "action_job")

_encode = msgspec.json.Encoder().encode


class ActionResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """The incident after the action, what may be done next, and any incident it created."""

    incident: Incident
    allowed_actions: list[str]
    new_incident_id: int | None = None


def _require(value: object, field: str, action: str) -> None:
    if value is None or value == "":
        raise InvalidRequest(f"action {action!r} needs the field {field!r}")


def _timeline(
    incident_id: int, at: int, actor: Actor, action: str, frm: str | None, to: str | None, text: str | None, **data: Any
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at_us": at,
        "actor": actor.name,
        "action": action,
        "from_state": frm,
        "to_state": to,
        "text": text,
        "data": _encode({"role": actor.role, **data}).decode(),
    }


def action_job(state: EngineState, incident_id: int, req: ActionRequest, actor: Actor, *, now_us: int) -> Any:
    """Build the writer job for one action; the job returns an ``ActionResult``."""

    def job(tx: Tx) -> ActionResult:
        conn = tx.conn
        row = repo.get_incident_row(conn, incident_id)
        if row is None:
            raise NotFound(f"incident {incident_id} does not exist")
        before = row["handling"]
        after = next_state(before, req.action)
        values: dict[str, Any] = {"handling": after, "updated_us": now_us}
        timeline: list[dict[str, Any]] = []
        retrack: list[int] = [incident_id]
        new_id: int | None = None
        extra: dict[str, Any] = {}
        if req.action == "close":
            _require(req.disposition, "disposition", "close")
            values["disposition"] = req.disposition
            extra["disposition"] = req.disposition
        elif req.action == "assign":
            _require(req.assignee, "assignee", "assign")
            values["assignee"] = req.assignee
            extra["assignee"] = req.assignee
        elif req.action == "acknowledge" and row["assignee"] is None:
            values["assignee"] = actor.name
        elif req.action == "note":
            _require(req.text, "text", "note")
        elif req.action == "sop":
            extra.update(_sop_step(state, row, req))
        elif req.action == "merge":
            extra["into"] = _merge(tx, row, req, actor, now_us, timeline)
            values["merged_into"] = req.into
            retrack.append(extra["into"])
        elif req.action == "detach":
            new_id = _detach(state, tx, row, req, actor, now_us, timeline)
            extra["event_id"], extra["new_incident_id"] = req.event_id, new_id
            retrack.append(new_id)
        conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
        timeline.insert(0, _timeline(incident_id, now_us, actor, req.action, before, after, req.text, **extra))
        repo.insert_timeline(conn, timeline)
        # Only from here on is memory touched; earlier refusals need no repair.
        tx.after_rollback(state.reload)
        state.retrack(conn, retrack)
        fresh = repo.get_incident_row(conn, incident_id)
        assert fresh is not None
        incident = repo.incident_from_row(fresh)
        body = msgspec.to_builtins(incident)
        kind = "incident.state_changed" if after != before else "incident.updated"
        changes = [Change(kind, incident_id, now_us, body)]
        outbox_items: list[OutboxItem] = []
        if after != before:
            rows, outbox_items = state.outbox_rows(
                kind, body, priority=incident.priority, exercise=incident.exercise, at_us=now_us
            )
            repo.insert_outbox(conn, rows)
        for other in retrack[1:]:
            other_row = repo.get_incident_row(conn, other)
            if other_row is not None:
                other_body = msgspec.to_builtins(repo.incident_from_row(other_row))
                kind_other = "incident.opened" if other == new_id else "incident.updated"
                changes.append(Change(kind_other, other, now_us, other_body))
        operation: Operation = "combination" if req.action == "merge" else "alteration"
        state.audit(
            tx,
            [
                AuditRecord(
                    operation,
                    f"incident.{req.action}",
                    actor.name,
                    actor.role,
                    objects={"incidents": [incident_id, *retrack[1:]]},
                    detail={"from": before, "to": after},
                )
            ],
            now_us,
        )
        tx.after_commit(lambda: state.publish(changes))
        if outbox_items:
            tx.after_commit(lambda: state.deliver(outbox_items))
        return ActionResult(incident, allowed_actions(after), new_id)

    return job


def _sop_step(state: EngineState, row: Any, req: ActionRequest) -> dict[str, Any]:
    """Check a tick against the alarm type's procedure; the entry keeps the step's wording,
    so the record still says what was done after the procedure is edited."""
    _require(req.step, "step", "sop")
    assert req.step is not None
    steps = state.dictionary.procedure(row["alarm_type"])
    if not steps:
        raise InvalidRequest(f"step: the {row['alarm_type']} procedure has no steps to tick")
    if req.step >= len(steps):
        raise InvalidRequest(
            f"step: {req.step} is not a step of the {row['alarm_type']} procedure (0-{len(steps) - 1})"
        )
    return {"step": req.step, "done": req.done, "step_text": steps[req.step]}


def _merge(tx: Tx, row: Any, req: ActionRequest, actor: Actor, now_us: int, timeline: list[dict[str, Any]]) -> int:
    """Fold this incident's events into the survivor ``req.into``; returns its id."""
    _require(req.into, "into", "merge")
    assert req.into is not None
    if req.into == row["id"]:
        raise InvalidRequest("cannot merge an incident into itself")
    target = repo.get_incident_row(tx.conn, req.into)
    if target is None:
        raise NotFound(f"incident {req.into} (merge target) does not exist")
    if target["handling"] not in OPEN_STATES:
        raise Conflict(f"merge target {req.into} is {target['handling']}; only an open incident can absorb another")
    conn = tx.conn
    links.move_incident(conn, row["id"], req.into)
    condition = "active" if "active" in (row["condition"], target["condition"]) else "cleared"
    conn.execute(
        update(incidents)
        .where(incidents.c.id == req.into)
        .values(
            event_count=incidents.c.event_count + row["event_count"],
            first_event_us=min(target["first_event_us"], row["first_event_us"]),
            last_event_us=max(target["last_event_us"], row["last_event_us"]),
            condition=condition,
            updated_us=now_us,
        )
    )
    timeline.append(
        _timeline(
            req.into,
            now_us,
            actor,
            "merge_in",
            None,
            None,
            req.text,
            merged=row["id"],
            events=row["event_count"],
        )
    )
    return req.into


def _detach(
    state: EngineState,
    tx: Tx,
    row: Any,
    req: ActionRequest,
    actor: Actor,
    now_us: int,
    timeline: list[dict[str, Any]],
) -> int:
    """Move one event out into a new incident of its own; returns the new incident's id."""
    _require(req.event_id, "event_id", "detach")
    conn = tx.conn
    ev = conn.execute(select(events).where(events.c.id == req.event_id)).mappings().first()
    if ev is None or ev["incident_id"] != row["id"]:
        raise InvalidRequest(f"event {req.event_id} is not part of incident {row['id']}")
    if row["event_count"] <= 1:
        raise Conflict(f"event {req.event_id} is the only event of incident {row['id']}; nothing to detach from")
    new_id = state.next_incident_id()
    new_row = {
        **{
            k: row[k] for k in ("alarm_type", "alarm_code", "priority", "category", "site", "exercise", "unmapped_type")
        },
        "id": new_id,
        "handling": Handling.NEW.value,
        "condition": ev["condition"],
        "lat": ev["lat"],
        "lon": ev["lon"],
        "first_event_us": ev["occurred_us"],
        "last_event_us": ev["occurred_us"],
        "event_count": 1,
        "opened_us": now_us,
        "updated_us": now_us,
        "title": row["title"],
    }
    repo.insert_incidents(conn, [new_row])
    links.move_event(conn, ev["id"], row["id"], new_id)
    bounds = conn.execute(
        select(func.min(events.c.occurred_us), func.max(events.c.occurred_us)).where(
            events.c.id.in_(links.event_ids_of(row["id"]))
        )
    ).one()
    conn.execute(
        update(incidents)
        .where(incidents.c.id == row["id"])
        .values(event_count=incidents.c.event_count - 1, first_event_us=bounds[0], last_event_us=bounds[1])
    )
    timeline.append(
        _timeline(
            new_id,
            now_us,
            actor,
            "open",
            None,
            Handling.NEW.value,
            f"detached from incident {row['id']}",
            event_id=req.event_id,
            detached_from=row["id"],
        )
    )
    return new_id
