"""``/api/v1/incidents``: the queue, one incident in full, and actions on it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.params import Parameter

from tocsin._internal.clock import to_us
from tocsin.api.consult import consult
from tocsin.api.security import actor_of, requires
from tocsin.audit.log import id_ranges
from tocsin.engine.actions import ActionResult
from tocsin.engine.lifecycle import allowed_actions
from tocsin.engine.policy import check_filter
from tocsin.errors import GuardRefusal, InvalidRequest, NotFound
from tocsin.guard import judge_term
from tocsin.model import OPEN_STATES, ActionRequest, Handling, Incident, TimelineEntry
from tocsin.store import repo

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = (
    "IncidentDetail",
    "IncidentPage",
    "SopStep",
    "act_on_incident",
    "get_incident",
    "list_incidents",
    "sop_checklist",
)


class IncidentPage(msgspec.Struct):
    """A page of incidents; pass ``next`` back as ``cursor`` for the following page."""

    items: list[Incident]
    next: str | None


class SopStep(msgspec.Struct, frozen=True, omit_defaults=True):
    """One step of the alarm type's procedure and its latest tick (from the timeline)."""

    step: int
    text: str
    done: bool = False
    by: str | None = None
    at: datetime | None = None


class IncidentDetail(Incident, kw_only=True):
    """An incident with its events (newest first, bounded), full timeline and procedure."""

    allowed_actions: list[str] = []
    events_truncated: bool = False
    sop: list[SopStep] = []


def sop_checklist(procedure: list[str], timeline: list[TimelineEntry]) -> list[SopStep]:
    """The checklist as it stands: each step's latest ``sop`` tick wins."""
    steps = [SopStep(step=i, text=text) for i, text in enumerate(procedure)]
    for entry in timeline:
        index = entry.data.get("step")
        if entry.action == "sop" and isinstance(index, int) and 0 <= index < len(steps):
            done = bool(entry.data.get("done", True))
            steps[index] = SopStep(
                step=index, text=steps[index].text, done=done, by=entry.actor if done else None, at=entry.at
            )
    return steps


def _states(state: str | None) -> tuple[str, ...]:
    if not state:
        return ()
    out: list[str] = []
    valid = {h.value for h in Handling}
    for part in state.split(","):
        part = part.strip()
        if part == "open":
            out.extend(OPEN_STATES)
        elif part in valid:
            out.append(part)
        else:
            raise InvalidRequest(f"state: {part!r} is not one of open, {', '.join(sorted(valid))}")
    return tuple(out)


def _priorities(priority: str | None) -> tuple[int, ...]:
    if not priority:
        return ()
    try:
        values = tuple(int(p) for p in priority.split(","))
    except ValueError as exc:
        raise InvalidRequest(f"priority: {priority!r} is not a comma-separated list of 1-4") from exc
    if any(not 1 <= p <= 4 for p in values):
        raise InvalidRequest(f"priority: {priority!r} has a value outside 1-4")
    return values


@get("/api/v1/incidents", guards=[requires("incidents:read")], summary="List incidents")
async def list_incidents(
    request: Request[Any, Any, Any],
    handling: Annotated[
        str | None, Parameter(query="state", description="handling states, comma-separated, or 'open'")
    ] = None,
    site: str | None = None,
    type: Annotated[str | None, Parameter(description="alarm-type key or code")] = None,
    priority: Annotated[str | None, Parameter(description="priorities, comma-separated")] = None,
    since: Annotated[datetime | None, Parameter(query="from", description="opened at or after (RFC 3339)")] = None,
    until: Annotated[datetime | None, Parameter(query="to", description="opened before (RFC 3339)")] = None,
    exercise: bool | None = None,
    order: Literal["newest", "queue"] = "newest",
    limit: Annotated[int, Parameter(ge=1)] = 100,
    cursor: str | None = None,
) -> IncidentPage:
    runtime: Runtime = request.app.state.runtime
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidRequest(f"{name}: give a time zone (e.g. 2026-11-23T10:00:00Z)")
    if type is not None:
        try:
            check_filter(type, "type")
        except GuardRefusal:
            await runtime.refused(actor_of(request), "search filter", [judge_term(type, field="type")])
            raise
    flt = repo.IncidentFilter(
        handling=_states(handling),
        site=site,
        alarm_type=type,
        priority=_priorities(priority),
        opened_from_us=to_us(since) if since else None,
        opened_to_us=to_us(until) if until else None,
        exercise=exercise,
    )
    try:
        after = repo.decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise InvalidRequest(f"cursor: {exc}") from exc
    if after is not None and len(after) != (3 if order == "queue" else 1):
        raise InvalidRequest("cursor: it belongs to a different order")
    size = min(limit, runtime.settings.limits.max_page_size)
    items, nxt = await runtime.db.read(lambda c: repo.list_incidents(c, flt, order=order, limit=size, after=after))
    only_open = bool(flt.handling) and set(flt.handling) <= OPEN_STATES
    await consult(
        request, "incidents.list", working_open=only_open, objects={"incidents": id_ranges([i.id for i in items])}
    )
    return IncidentPage(items=items, next=nxt)


@get("/api/v1/incidents/{incident_id:int}", guards=[requires("incidents:read")], summary="One incident in full")
async def get_incident(request: Request[Any, Any, Any], incident_id: int) -> IncidentDetail:
    runtime: Runtime = request.app.state.runtime
    cap = runtime.settings.limits.max_incident_events

    def read(conn: Any) -> IncidentDetail | None:
        inc = repo.get_incident(conn, incident_id)
        if inc is None:
            return None
        evs = repo.incident_events(conn, incident_id, cap + 1)
        fields = {f: getattr(inc, f) for f in inc.__struct_fields__ if f not in ("events", "timeline")}
        timeline = repo.incident_timeline(conn, incident_id)
        return IncidentDetail(
            **fields,
            events=evs[:cap],
            timeline=timeline,
            allowed_actions=allowed_actions(inc.handling),
            events_truncated=len(evs) > cap,
            sop=sop_checklist(runtime.state.dictionary.procedure(inc.alarm_type), timeline),
        )

    detail = await runtime.db.read(read)
    if detail is None:
        raise NotFound(f"incident {incident_id} does not exist")
    events = [e.id for e in detail.events or []]
    await consult(
        request,
        "incident.read",
        working_open=detail.handling in OPEN_STATES,
        objects={"incidents": [incident_id], "events": id_ranges(events)},
    )
    return detail


@post(
    "/api/v1/incidents/{incident_id:int}/actions",
    guards=[requires("incidents:act")],
    status_code=200,
    summary="Act on an incident",
    description=(
        "acknowledge, assign, dispatch, resolve, close (needs disposition), reopen, note, merge (needs "
        "into), detach (needs event_id), sop (needs step; done=false unticks). "
        "An action the current state does not allow is a 409 naming "
        "those it does."
    ),
)
async def act_on_incident(request: Request[Any, Any, Any], incident_id: int, data: ActionRequest) -> ActionResult:
    runtime: Runtime = request.app.state.runtime
    return await runtime.engine.act(incident_id, data, actor_of(request))
