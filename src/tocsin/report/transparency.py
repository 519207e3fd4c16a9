"""The transparency report: what alarm types exist, how they are used, and by whom data is seen.

Only aggregates leave this module: counts, percentiles and the dictionary's own history.
It is public (``GET /transparency``) so a council, a journalist or a resident can check
that tocsin is used for what it says: which alarm types are in force and who changed
them, every ``review`` justification, events and incidents by type, method and month,
response times, data held and purged, consultations by role, and guard refusals.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, func, select

from tocsin._internal.clock import from_us
from tocsin.report.handling import handling_delays, quantile
from tocsin.store.schema import alarm_type_changes, alarm_types, audit_records, events, incidents

__all__ = ("Percentiles", "TransparencyReport", "build_report")


class Percentiles(msgspec.Struct, frozen=True):
    count: int
    median_s: float | None
    p90_s: float | None


class TypeInForce(msgspec.Struct, frozen=True):
    code: str
    key: str
    name: str
    category: str
    priority: int
    retention_days: int | None
    added_at: str
    added_by: str


class TypeChange(msgspec.Struct, frozen=True):
    at: str
    code: str
    key: str
    change: str
    actor: str
    verdict: str
    justification: str | None


class CountRow(msgspec.Struct, frozen=True):
    month: str
    alarm_type: str
    method: str
    exercise: bool
    events: int


class IncidentRow(msgspec.Struct, frozen=True):
    month: str
    alarm_type: str
    exercise: bool
    incidents: int
    false_alarms: int


class TransparencyReport(msgspec.Struct, frozen=True):
    period_from: str
    period_to: str
    generated_at: str
    types_in_force: list[TypeInForce]
    type_changes: list[TypeChange]
    reviews: list[TypeChange]
    events_by_month: list[CountRow]
    incidents_by_month: list[IncidentRow]
    acknowledge: Percentiles
    resolve: Percentiles
    held: dict[str, int]
    purged: dict[str, int]
    consultations_by_role: dict[str, int]
    refusals_by_month: dict[str, int]


def _month(column: Any, dialect: str) -> Any:
    seconds = column / 1_000_000
    if dialect == "sqlite":
        return func.strftime("%Y-%m", seconds, "unixepoch")
    return func.to_char(func.to_timestamp(seconds), "YYYY-MM")


def _iso(us: int) -> str:
    return from_us(us).isoformat().replace("+00:00", "Z")


def _response_times(conn: Connection, action: str, start: int, end: int) -> Percentiles:
    delays = handling_delays(conn, [action], start, end)
    if not delays:
        return Percentiles(count=0, median_s=None, p90_s=None)
    return Percentiles(count=len(delays), median_s=quantile(delays, 0.5), p90_s=quantile(delays, 0.9))


def build_report(conn: Connection, *, start_us: int, end_us: int, now_us: int) -> TransparencyReport:
    """Aggregate the period [start, end) into a report."""
    dialect = conn.dialect.name
    added = {
        r.code: (r.at_us, r.actor)
        for r in conn.execute(
            select(
                alarm_type_changes.c.code,
                func.min(alarm_type_changes.c.at_us).label("at_us"),
                alarm_type_changes.c.actor,
            ).group_by(alarm_type_changes.c.code)
        )
    }
    in_force = [
        TypeInForce(
            code=r.code,
            key=r.key,
            name=r.name,
            category=r.category,
            priority=r.priority,
            retention_days=r.retention_days,
            added_at=_iso(added.get(r.code, (r.created_us, ""))[0]),
            added_by=added.get(r.code, (0, r.created_by))[1] or r.created_by,
        )
        for r in conn.execute(
            select(alarm_types).where(alarm_types.c.retired_us.is_(None)).order_by(alarm_types.c.code)
        )
    ]
    changes = [
        TypeChange(
            at=_iso(r.at_us),
            code=r.code,
            key=r.key,
            change=r.change,
            actor=r.actor,
            verdict=r.verdict,
            justification=r.justification,
        )
        for r in conn.execute(select(alarm_type_changes).order_by(alarm_type_changes.c.at_us, alarm_type_changes.c.id))
    ]
    ev_month = _month(events.c.received_us, dialect)
    events_rows = [
        CountRow(month=m, alarm_type=t, method=meth, exercise=bool(x), events=n)
        for m, t, meth, x, n in conn.execute(
            select(ev_month, events.c.alarm_type, events.c.method, events.c.exercise, func.count())
            .where(and_(events.c.received_us >= start_us, events.c.received_us < end_us))
            .group_by(ev_month, events.c.alarm_type, events.c.method, events.c.exercise)
            .order_by(ev_month, events.c.alarm_type)
        )
    ]
    inc_month = _month(incidents.c.opened_us, dialect)
    false_alarm = func.sum((incidents.c.disposition == "false_alarm").cast(incidents.c.event_count.type))
    incident_rows = [
        IncidentRow(month=m, alarm_type=t, exercise=bool(x), incidents=n, false_alarms=int(f or 0))
        for m, t, x, n, f in conn.execute(
            select(inc_month, incidents.c.alarm_type, incidents.c.exercise, func.count(), false_alarm)
            .where(and_(incidents.c.opened_us >= start_us, incidents.c.opened_us < end_us))
            .group_by(inc_month, incidents.c.alarm_type, incidents.c.exercise)
            .order_by(inc_month, incidents.c.alarm_type)
        )
    ]
    in_period = and_(audit_records.c.at_us >= start_us, audit_records.c.at_us < end_us)
    purged: dict[str, int] = defaultdict(int)
    for text in conn.execute(
        select(audit_records.c.record).where(and_(in_period, audit_records.c.action == "retention.purge"))
    ).scalars():
        detail = msgspec.json.decode(text).get("detail", {})
        for key in ("events", "incidents", "outbox"):
            purged[key] += int(detail.get(key, 0))
    consultations: dict[str, int] = dict(
        conn.execute(
            select(audit_records.c.role, func.count())
            .where(and_(in_period, audit_records.c.operation == "consultation"))
            .group_by(audit_records.c.role)
        ).all()
    )
    au_month = _month(audit_records.c.at_us, dialect)
    refusals: dict[str, int] = dict(
        conn.execute(
            select(au_month, func.count())
            .where(and_(in_period, audit_records.c.action == "guard.refused"))
            .group_by(au_month)
            .order_by(au_month)
        ).all()
    )
    return TransparencyReport(
        period_from=_iso(start_us),
        period_to=_iso(end_us),
        generated_at=_iso(now_us),
        types_in_force=in_force,
        type_changes=changes,
        reviews=[c for c in changes if c.verdict == "review"],
        events_by_month=events_rows,
        incidents_by_month=incident_rows,
        acknowledge=_response_times(conn, "acknowledge", start_us, end_us),
        resolve=_response_times(conn, "resolve", start_us, end_us),
        held={
            "events": conn.execute(select(func.count()).select_from(events)).scalar_one(),
            "incidents": conn.execute(select(func.count()).select_from(incidents)).scalar_one(),
        },
        purged=dict(purged),
        consultations_by_role=consultations,
        refusals_by_month=refusals,
    )
