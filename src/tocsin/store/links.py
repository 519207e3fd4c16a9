"""Which events belong to which incident: links written in sorted bulk, behind ingest.

Why not an index on ``events.incident_id``: a group commit appends events to hundreds of
incidents, so such an index takes an entry in hundreds of scattered leaf pages per commit,
each one rewritten to the WAL at COMMIT. ``bench/storage.py`` measured it at a third of the
store's whole cost per event. So events are stored with their ``incident_id`` and no index
on it, and ``link_tail`` later copies the (incident, event) pairs past a watermark into
``event_links``, clustered by incident, in one sorted ``INSERT ... SELECT``. That touches
each incident's page once per batch instead of once per commit.

Invariant: every event with an incident and an id up to ``link_state.linked_through`` has
exactly one link row, naming that incident; events past the mark have none. Readers take an
incident's events from both parts (``event_ids_of``, ``first_event_id``, ``newest_event_ids``):
the links, and the short unlinked tail, a range of rowids. Whatever moves events between
incidents (merge, detach) or deletes them (retention) keeps the links in step
(``move_incident``, ``move_event``, ``forget``). The engine links the tail every
``LINK_BATCH`` events and once a second, and before it loads open incidents, so the tail
stays short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Select, func, insert, select, union_all, update

from tocsin.store.schema import event_links, events, link_state

__all__ = (
    "LINK_BATCH",
    "event_ids_of",
    "first_event_id",
    "forget",
    "link_tail",
    "linked_through",
    "move_event",
    "move_incident",
    "newest_event_ids",
)

LINK_BATCH = 5_000
"""Unlinked events after which the engine links them at once, not at the next tick: bounds
the tail a reader scans (a few milliseconds) and the time one linking job holds the writer."""

_tail = events.alias("unlinked")
"""``events`` under another name, so a tail subquery never correlates with an outer ``events``."""


def _mark() -> ScalarSelect[Any]:
    return select(link_state.c.linked_through).where(link_state.c.id == 1).scalar_subquery()


def linked_through(conn: Connection) -> int:
    """The highest event id whose link is written (0 for an empty store)."""
    return int(conn.execute(select(link_state.c.linked_through).where(link_state.c.id == 1)).scalar_one())


def link_tail(conn: Connection) -> int:
    """Link every event past the mark, in one sorted statement; returns the new mark.

    Must run on the writer after the rows of earlier jobs are written (a job that is not
    ``deferred_only`` is), since the new mark is the highest event id stored.
    """
    mark = linked_through(conn)
    top = int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())
    if top <= mark:
        return mark
    pairs = (
        select(events.c.incident_id, events.c.id)
        .where(events.c.id > mark, events.c.id <= top, events.c.incident_id.is_not(None))
        .order_by(events.c.incident_id, events.c.id)
    )
    conn.execute(insert(event_links).from_select(["incident_id", "event_id"], pairs))
    conn.execute(update(link_state).where(link_state.c.id == 1).values(linked_through=top))
    return top


def _belongs(column: Any, incident: int | Sequence[int] | Select[Any]) -> Any:
    return column == incident if isinstance(incident, int) else column.in_(incident)


def event_ids_of(incident: int | Sequence[int] | Select[Any]) -> Select[Any]:
    """The ids of the events of ``incident`` (an id, ids, or a SELECT of ids): a SELECT, for ``IN`` or alone."""
    return select(
        union_all(
            select(event_links.c.event_id.label("id")).where(_belongs(event_links.c.incident_id, incident)),
            select(_tail.c.id).where(_tail.c.id > _mark(), _belongs(_tail.c.incident_id, incident)),
        ).subquery()
    )


def first_event_id(incident: Any) -> Any:
    """The id of the first event of ``incident`` (a column of an outer query, or an id)."""
    linked = select(func.min(event_links.c.event_id)).where(event_links.c.incident_id == incident).scalar_subquery()
    tail = select(func.min(_tail.c.id)).where(_tail.c.id > _mark(), _tail.c.incident_id == incident).scalar_subquery()
    return func.coalesce(linked, tail)  # every linked id is below every unlinked one


def newest_event_ids(conn: Connection, incident_id: int, limit: int) -> list[int]:
    """The ids of the newest ``limit`` events of an incident, newest first.

    Two indexed reads, not one ``IN``: an incident with a million events must not build a
    million-row set to show its last thousand.
    """
    mark = linked_through(conn)
    tail = list(
        conn.execute(
            select(events.c.id)
            .where(events.c.id > mark, events.c.incident_id == incident_id)
            .order_by(events.c.id.desc())
            .limit(limit)
        ).scalars()
    )
    if len(tail) >= limit:
        return tail
    linked = conn.execute(
        select(event_links.c.event_id)
        .where(event_links.c.incident_id == incident_id)
        .order_by(event_links.c.event_id.desc())
        .limit(limit - len(tail))
    ).scalars()
    return tail + list(linked)


def move_incident(conn: Connection, source: int, target: int) -> None:
    """Give every event of ``source`` to ``target`` (a merge), links included."""
    conn.execute(update(events).where(events.c.id.in_(event_ids_of(source))).values(incident_id=target))
    conn.execute(update(event_links).where(event_links.c.incident_id == source).values(incident_id=target))


def move_event(conn: Connection, event_id: int, source: int, target: int) -> None:
    """Move one event from ``source`` to ``target`` (a detach), its link included."""
    conn.execute(update(events).where(events.c.id == event_id).values(incident_id=target))
    conn.execute(
        update(event_links)
        .where(event_links.c.incident_id == source, event_links.c.event_id == event_id)
        .values(incident_id=target)
    )


def forget(conn: Connection, incident_ids: list[int]) -> None:
    """Delete the links of these incidents (their events are being deleted)."""
    conn.execute(event_links.delete().where(event_links.c.incident_id.in_(incident_ids)))
