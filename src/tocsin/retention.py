"""Retention: data expires on schedule, and every purge is itself on the audit chain.

Two rules, as the accountability issue sets them:
- an event attached to no incident is kept ``UNATTACHED_DAYS`` (31) after receipt;
- a closed (or merged) incident, with its events, timeline and notifications, is kept
  its alarm type's ``retention_days`` (default ``CLOSED_DAYS``, 365) after it ended.
Open, acknowledged, dispatched and resolved incidents are never purged.

Purges run in bounded batches (``BATCH``), each its own transaction with one
``erasure`` audit record holding counts and id ranges, never contents. A crash between
batches leaves every batch either fully purged and recorded, or untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, delete, func, select

from tocsin.audit.log import AuditRecord, id_ranges
from tocsin.store import links
from tocsin.store.schema import alarm_types, events, incidents, outbox, timeline
from tocsin.store.writer import Tx

__all__ = ("BATCH", "CLOSED_DAYS", "UNATTACHED_DAYS", "Plan", "PurgeResult", "plan", "purge_batch")

UNATTACHED_DAYS = 31
CLOSED_DAYS = 365
BATCH = 2_000
_DAY_US = 86_400 * 1_000_000
_ENDED = ("closed", "merged")


class Plan(msgspec.Struct, frozen=True):
    """What a purge at ``now`` would remove."""

    unattached_events: int
    incidents: int
    incident_events: int


class PurgeResult(msgspec.Struct, frozen=True):
    events: int
    incidents: int
    done: bool


def _expired_incidents(now_us: int) -> Any:
    days = func.coalesce(alarm_types.c.retention_days, CLOSED_DAYS)
    return (
        select(incidents.c.id)
        .select_from(incidents.outerjoin(alarm_types, alarm_types.c.key == incidents.c.alarm_type))
        .where(and_(incidents.c.handling.in_(_ENDED), incidents.c.updated_us < now_us - days * _DAY_US))
    )


def _expired_unattached(now_us: int) -> Any:
    return select(events.c.id).where(
        and_(events.c.incident_id.is_(None), events.c.received_us < now_us - UNATTACHED_DAYS * _DAY_US)
    )


def _expired_outbox(now_us: int) -> Any:
    return select(outbox.c.id).where(
        and_(
            outbox.c.state.in_(("delivered", "dead")),
            outbox.c.created_us < now_us - UNATTACHED_DAYS * _DAY_US,
        )
    )


def plan(conn: Connection, *, now_us: int) -> Plan:
    """Count what is due, without removing anything (``--dry-run``)."""
    expired = _expired_incidents(now_us).subquery()
    return Plan(
        unattached_events=conn.execute(
            select(func.count()).select_from(_expired_unattached(now_us).subquery())
        ).scalar_one(),
        incidents=conn.execute(select(func.count()).select_from(expired)).scalar_one(),
        incident_events=conn.execute(
            select(func.count()).select_from(events).where(events.c.id.in_(links.event_ids_of(select(expired.c.id))))
        ).scalar_one(),
    )


def purge_batch(
    *, now_us: int, actor: str, role: str, audit: Callable[[Tx, list[AuditRecord], int], None]
) -> Callable[[Tx], PurgeResult]:
    """A writer job removing at most ``BATCH`` expired incidents or unattached events."""

    def job(tx: Tx) -> PurgeResult:
        conn = tx.conn
        inc_ids = list(conn.execute(_expired_incidents(now_us).limit(BATCH)).scalars())
        if inc_ids:
            of_expired = links.event_ids_of(inc_ids)
            ev_ids = list(conn.execute(of_expired).scalars())
            conn.execute(delete(events).where(events.c.id.in_(of_expired)))
            links.forget(conn, inc_ids)
            conn.execute(delete(timeline).where(timeline.c.incident_id.in_(inc_ids)))
            conn.execute(delete(incidents).where(incidents.c.id.in_(inc_ids)))
            record = AuditRecord(
                "erasure",
                "retention.purge",
                actor,
                role,
                objects={"incidents": id_ranges(inc_ids), "events": id_ranges(ev_ids)},
                detail={"rule": "closed incidents", "incidents": len(inc_ids), "events": len(ev_ids)},
            )
            audit(tx, [record], now_us)
            return PurgeResult(events=len(ev_ids), incidents=len(inc_ids), done=False)
        ev_ids = list(conn.execute(_expired_unattached(now_us).limit(BATCH)).scalars())
        if not ev_ids:
            # Delivered or dead notifications carry copies of incident data: same 31 days.
            sent = list(conn.execute(_expired_outbox(now_us).limit(BATCH)).scalars())
            if not sent:
                return PurgeResult(events=0, incidents=0, done=True)
            conn.execute(delete(outbox).where(outbox.c.id.in_(sent)))
            audit(
                tx,
                [
                    AuditRecord(
                        "erasure",
                        "retention.purge",
                        actor,
                        role,
                        objects={"outbox": id_ranges(sent)},
                        detail={"rule": "sent notifications", "outbox": len(sent)},
                    )
                ],
                now_us,
            )
            return PurgeResult(events=0, incidents=0, done=False)
        conn.execute(delete(events).where(events.c.id.in_(ev_ids)))
        record = AuditRecord(
            "erasure",
            "retention.purge",
            actor,
            role,
            objects={"events": id_ranges(ev_ids)},
            detail={"rule": "events in no incident", "events": len(ev_ids)},
        )
        audit(tx, [record], now_us)
        return PurgeResult(events=len(ev_ids), incidents=0, done=False)

    return job
