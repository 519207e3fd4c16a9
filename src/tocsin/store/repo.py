"""Queries: every SQL statement tocsin runs, as functions of a SQLAlchemy connection.

Dialect-neutral Core, so the PostgreSQL backend runs the same code. Write functions take
lists and use executemany: a group commit of a thousand events is a handful of
statements, not thousands. Read functions build API structs from rows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, bindparam, func, or_, select, tuple_, update

from tocsin._internal.clock import from_us
from tocsin.model import AlarmType, Event, Incident, Location, TimelineEntry
from tocsin.store import links
from tocsin.store.bulk import driver_cursor, insert_many, update_from_values
from tocsin.store.schema import alarm_type_changes, alarm_types, events, incidents, outbox, timeline, tokens

__all__ = (
    "IncidentFilter",
    "decode_cursor",
    "encode_cursor",
    "find_existing",
    "get_incident",
    "incident_events",
    "incident_from_row",
    "incident_timeline",
    "insert_alarm_types",
    "list_alarm_types",
    "list_incidents",
    "load_open_incidents",
    "max_ids",
    "open_episodes",
    "record_outcomes",
)

Row = Mapping[Any, Any]
"""A result row as a mapping (SQLAlchemy ``RowMapping`` or a plain dict)."""

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.decode

_UPDATE_TOUCHED = (
    update(incidents)
    .where(incidents.c.id == bindparam("b_id"))
    .values(
        last_event_us=bindparam("b_last"),
        event_count=incidents.c.event_count + bindparam("b_added"),
        condition=bindparam("b_condition"),
        updated_us=bindparam("b_updated"),
        lat=func.coalesce(incidents.c.lat, bindparam("b_lat")),
        lon=func.coalesce(incidents.c.lon, bindparam("b_lon")),
    )
)
_UPDATE_TOUCHED_FIRST = _UPDATE_TOUCHED.values(first_event_us=bindparam("b_first"))


def max_ids(conn: Connection) -> dict[str, int]:
    """Highest id in each writer-allocated table (0 when empty)."""
    return {
        name: conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        for name, table in (("events", events), ("incidents", incidents), ("outbox", outbox))
    }


def find_existing(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
    """Events already stored under (source, external_id): their id and incident.

    Looks up by ``external_id`` (the leading column of the unique index) and checks the
    source in Python: a row-value IN list would not use the index on SQLite. The SQL is
    written once per list length and dialect and run on the driver's own cursor: this runs
    once per ingest request, and SQLAlchemy's result machinery costs more than the lookup.
    """
    wanted = set(keys)
    found: dict[tuple[str, str], tuple[int, int | None]] = {}
    ext_ids = sorted({ext for _, ext in keys})
    cursor = driver_cursor(conn)
    for start in range(0, len(ext_ids), 500):
        chunk = ext_ids[start : start + 500]
        cursor.execute(_find_sql(conn, len(chunk)), tuple(chunk))
        for source, external_id, event_id, incident_id in cursor.fetchall():
            if (source, external_id) in wanted:
                found[(source, external_id)] = (event_id, incident_id)
    return found


_find_cache: dict[tuple[str, int], str] = {}


def _find_sql(conn: Connection, n: int) -> str:
    key = (conn.dialect.name, n)
    sql = _find_cache.get(key)
    if sql is None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = f"SELECT source, external_id, id, incident_id FROM events WHERE external_id IN ({', '.join([mark] * n)})"
        _find_cache[key] = sql
    return sql


_INSERT_EVENTS = events.insert()
_INSERT_INCIDENTS = incidents.insert()
_INSERT_TIMELINE = timeline.insert()
_INSERT_OUTBOX = outbox.insert()


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_many(conn, "events", _INSERT_EVENTS, rows)


def insert_incidents(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_many(conn, "incidents", _INSERT_INCIDENTS, rows)


_TOUCHED_COLUMNS = ("b_id", "b_last", "b_added", "b_condition", "b_updated", "b_lat", "b_lon")
_TOUCHED_SET = (
    "last_event_us = v.b_last, event_count = incidents.event_count + v.b_added, "
    "condition = v.b_condition, updated_us = v.b_updated, lat = coalesce(incidents.lat, v.b_lat), "
    "lon = coalesce(incidents.lon, v.b_lon)"
)
_TOUCHED_FIRST_COLUMNS = (*_TOUCHED_COLUMNS, "b_first")
_TOUCHED_FIRST_SET = _TOUCHED_SET + ", first_event_us = v.b_first"


def update_touched(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Apply aggregated correlation updates (``b_id``, ``b_last``, ``b_added``, ...).

    Rows for the same incident (from several requests of one group commit) are merged
    first: their ``b_added`` summed, ``b_first_moved`` or-ed, the rest taken from the last,
    which is the newest. They go out through ``tocsin.store.bulk.update_from_values``.
    ``first_event_us`` is assigned only where an event older than the incident's first
    moved it: it is in the queue index, and SQLite rewrites an index entry whenever one of
    its columns is assigned, even to the same value (2.2 microseconds an incident, for
    nothing).
    """
    if not rows:
        return
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["b_id"])
        if seen is not None:
            row = {
                **row,
                "b_added": seen["b_added"] + row["b_added"],
                "b_first_moved": seen["b_first_moved"] or row["b_first_moved"],
            }
        merged[row["b_id"]] = row
    kept = [row for row in merged.values() if not row["b_first_moved"]]
    moved = [row for row in merged.values() if row["b_first_moved"]]
    if kept:
        update_from_values(conn, "incidents", "id", _TOUCHED_COLUMNS, _TOUCHED_SET, kept, fallback=_UPDATE_TOUCHED)
    if moved:
        update_from_values(
            conn, "incidents", "id", _TOUCHED_FIRST_COLUMNS, _TOUCHED_FIRST_SET, moved, fallback=_UPDATE_TOUCHED_FIRST
        )


_OUTCOMES = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        last_error=bindparam("b_error"),
        next_attempt_us=bindparam("b_next"),
        delivered_us=bindparam("b_delivered"),
    )
)
_OUTCOME_COLUMNS = ("b_id", "b_state", "b_attempts", "b_error", "b_next", "b_delivered")
_OUTCOME_SET = (
    "state = v.b_state, attempts = v.b_attempts, last_error = v.b_error, next_attempt_us = v.b_next, "
    "delivered_us = v.b_delivered"
)


def record_outcomes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write delivery outcomes of outbox rows (``b_id``, ``b_state``, ...); the last per row wins."""
    unique = list({row["b_id"]: row for row in rows}.values())
    if not unique:
        return
    update_from_values(conn, "outbox", "id", _OUTCOME_COLUMNS, _OUTCOME_SET, unique, fallback=_OUTCOMES)


def insert_timeline(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_many(conn, "timeline", _INSERT_TIMELINE, rows)


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_many(conn, "outbox", _INSERT_OUTBOX, rows)


def load_open_incidents(conn: Connection, open_states: Iterable[str], ids: Sequence[int] | None = None) -> list[Row]:
    """Rows of every open incident (or of those ``ids`` that are open), for the correlation index."""
    cols = [
        incidents.c.id,
        incidents.c.alarm_type,
        incidents.c.site,
        incidents.c.exercise,
        incidents.c.unmapped_type,
        incidents.c.lat,
        incidents.c.lon,
        incidents.c.last_event_us,
        incidents.c.first_event_us,
        incidents.c.event_count,
        incidents.c.condition,
        incidents.c.priority,
    ]
    # The source of a site-less, location-less incident is that of its first event.
    first_source = select(events.c.source).where(events.c.id == links.first_event_id(incidents.c.id)).scalar_subquery()
    stmt = select(*cols, first_source.label("source")).where(incidents.c.handling.in_(list(open_states)))
    if ids is not None:
        stmt = stmt.where(incidents.c.id.in_(list(ids)))
    return list(conn.execute(stmt).mappings())


def open_episodes(conn: Connection, alarm_type: str, open_states: Iterable[str], mark: str) -> dict[str, int]:
    """Sources whose latest ``mark``ed event in an open incident of ``alarm_type`` is active: when it occurred.

    This is how a fault raised by silence (``tech.comm_failure``) outlives a restart: the
    supervisor resumes the episode instead of forgetting it, so the source's return clears
    the incident still on the queue. Only events whose external id contains ``mark`` are
    the supervisor's own. Reads only the events of open incidents of the type.
    """
    open_of_type = select(incidents.c.id).where(
        incidents.c.alarm_type == alarm_type, incidents.c.handling.in_(list(open_states))
    )
    stmt = (
        select(events.c.source, events.c.condition, events.c.occurred_us)
        .where(events.c.id.in_(links.event_ids_of(open_of_type)), events.c.external_id.contains(mark, autoescape=True))
        .order_by(events.c.id)
    )
    latest: dict[str, tuple[str, int]] = {}
    for source, condition, occurred_us in conn.execute(stmt):
        latest[source] = (condition, occurred_us)
    return {source: at for source, (condition, at) in latest.items() if condition == "active"}


# -- alarm types -----------------------------------------------------------------------


def alarm_type_from_row(row: Row) -> AlarmType:
    return AlarmType(
        code=row["code"],
        key=row["key"],
        name=row["name"],
        category=row["category"],
        priority=row["priority"],
        sop=_json_decode(row["sop"]),
        correlation_window=row["correlation_window"],
        radius_m=row["radius_m"],
        description=row["description"],
        aliases=_json_decode(row["aliases"]),
        retention_days=row["retention_days"],
    )


def alarm_type_row(t: AlarmType, *, at_us: int, actor: str, builtin: bool = False) -> dict[str, Any]:
    return {
        "code": t.code,
        "key": t.key,
        "name": t.name,
        "category": t.category,
        "priority": t.priority,
        "sop": _json_encode(t.sop).decode(),
        "correlation_window": t.correlation_window,
        "radius_m": t.radius_m,
        "description": t.description,
        "aliases": _json_encode(t.aliases).decode(),
        "builtin": builtin,
        "retention_days": t.retention_days,
        "created_us": at_us,
        "updated_us": at_us,
        "created_by": actor,
    }


def alarm_type_change_row(t: AlarmType, *, at_us: int, actor: str, change: str, verdict: str) -> dict[str, Any]:
    """A row of the dictionary's public change history."""
    definition = msgspec.structs.replace(t, justification=None)
    return {
        "code": t.code,
        "key": t.key,
        "at_us": at_us,
        "actor": actor,
        "change": change,
        "verdict": verdict,
        "justification": t.justification,
        "definition": _json_encode(definition).decode(),
    }


def insert_alarm_type_changes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(alarm_type_changes.insert(), rows)


def any_alarm_types(conn: Connection) -> bool:
    return conn.execute(select(alarm_types.c.code).limit(1)).first() is not None


def list_alarm_types(conn: Connection) -> list[AlarmType]:
    """Alarm types in force (not retired)."""
    stmt = select(alarm_types).where(alarm_types.c.retired_us.is_(None)).order_by(alarm_types.c.code)
    return [alarm_type_from_row(r) for r in conn.execute(stmt).mappings()]


def insert_alarm_types(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(alarm_types.insert(), rows)


def get_alarm_type(conn: Connection, code: str) -> AlarmType | None:
    """The type in force with this code."""
    row = (
        conn.execute(select(alarm_types).where(alarm_types.c.code == code, alarm_types.c.retired_us.is_(None)))
        .mappings()
        .first()
    )
    return None if row is None else alarm_type_from_row(row)


def update_alarm_type(conn: Connection, t: AlarmType, *, at_us: int) -> None:
    values = alarm_type_row(t, at_us=at_us, actor="")
    for fixed in ("code", "key", "builtin", "created_us", "created_by"):
        values.pop(fixed)
    conn.execute(update(alarm_types).where(alarm_types.c.code == t.code).values(**values))


def retire_alarm_type(conn: Connection, code: str, *, at_us: int) -> None:
    conn.execute(update(alarm_types).where(alarm_types.c.code == code).values(retired_us=at_us, updated_us=at_us))


def alarm_type_exists(conn: Connection, code: str, key: str) -> str | None:
    """Which of ``code`` or ``key`` is already taken, if either."""
    row = conn.execute(
        select(alarm_types.c.code, alarm_types.c.key).where(or_(alarm_types.c.code == code, alarm_types.c.key == key))
    ).first()
    if row is None:
        return None
    return "code" if row.code == code else "key"


# -- tokens ----------------------------------------------------------------------------


def insert_token(conn: Connection, *, name: str, role: str, digest: str, at_us: int) -> int:
    """Store a token's digest; returns its id."""
    stmt = tokens.insert().values(name=name, role=role, hash=digest, created_us=at_us).returning(tokens.c.id)
    return int(conn.execute(stmt).scalar_one())


def token_by_hash(conn: Connection, digest: str) -> tuple[str, str] | None:
    row = conn.execute(
        select(tokens.c.name, tokens.c.role).where(and_(tokens.c.hash == digest, tokens.c.revoked_us.is_(None)))
    ).first()
    return None if row is None else (row.name, row.role)


# -- incidents -------------------------------------------------------------------------


def incident_from_row(row: Row, *, at: Callable[[int], datetime] = from_us) -> Incident:
    """The API struct of an incident row; ``at`` turns stored microseconds into datetimes."""
    lat, lon = row["lat"], row["lon"]
    return Incident(
        id=row["id"],
        alarm_type=row["alarm_type"],
        alarm_code=row["alarm_code"],
        priority=row["priority"],
        category=row["category"],
        handling=row["handling"],
        condition=row["condition"],
        first_event_at=at(row["first_event_us"]),
        last_event_at=at(row["last_event_us"]),
        event_count=row["event_count"],
        opened_at=at(row["opened_us"]),
        updated_at=at(row["updated_us"]),
        exercise=bool(row["exercise"]),
        site=row["site"],
        location=Location(lat=lat, lon=lon) if lat is not None and lon is not None else None,
        assignee=row["assignee"],
        disposition=row["disposition"],
        merged_into=row["merged_into"],
        unmapped_type=row["unmapped_type"],
        title=row["title"],
    )


def event_from_row(row: Row) -> Event:
    lat, lon = row["lat"], row["lon"]
    return Event(
        id=row["id"],
        type=row["type"],
        method=row["method"],
        source=row["source"],
        occurred_at=from_us(row["occurred_us"]),
        received_at=from_us(row["received_us"]),
        condition=row["condition"],
        exercise=bool(row["exercise"]),
        site=row["site"],
        location=Location(lat=lat, lon=lon) if lat is not None and lon is not None else None,
        description=row["description"],
        attributes=_json_decode(row["attributes"]) if row["attributes"] else {},
        external_id=row["external_id"],
        incident_id=row["incident_id"],
        alarm_type=row["alarm_type"],
    )


def get_incident_row(conn: Connection, incident_id: int) -> Row | None:
    return conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()


def get_incident(conn: Connection, incident_id: int) -> Incident | None:
    row = get_incident_row(conn, incident_id)
    return None if row is None else incident_from_row(row)


def incident_events(conn: Connection, incident_id: int, limit: int) -> list[Event]:
    """The newest ``limit`` events of an incident, newest first."""
    ids = links.newest_event_ids(conn, incident_id, limit)
    stmt = select(events).where(events.c.id.in_(ids)).order_by(events.c.id.desc())
    return [event_from_row(r) for r in conn.execute(stmt).mappings()]


def incident_timeline(conn: Connection, incident_id: int) -> list[TimelineEntry]:
    stmt = select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
    return [
        TimelineEntry(
            at=from_us(r["at_us"]),
            actor=r["actor"],
            action=r["action"],
            from_state=r["from_state"],
            to_state=r["to_state"],
            text=r["text"],
            data=_json_decode(r["data"]) if r["data"] else {},
        )
        for r in conn.execute(stmt).mappings()
    ]


class IncidentFilter(msgspec.Struct, frozen=True):
    """Filters of ``GET /incidents``; ``handling`` may hold the alias ``open``."""

    handling: tuple[str, ...] = ()
    site: str | None = None
    alarm_type: str | None = None
    priority: tuple[int, ...] = ()
    opened_from_us: int | None = None
    opened_to_us: int | None = None
    exercise: bool | None = None


def encode_cursor(values: Sequence[int]) -> str:
    return base64.urlsafe_b64encode(_json_encode(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[int]:
    """Raises ValueError for a cursor this server did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=list[int])
    except (ValueError, msgspec.DecodeError) as exc:
        raise ValueError("cursor is not one this server returned") from exc


def list_incidents(
    conn: Connection, flt: IncidentFilter, *, order: str, limit: int, after: list[int] | None
) -> tuple[list[Incident], str | None]:
    """A page of incidents and the cursor of the next page (None on the last).

    ``order="newest"`` pages by id descending; ``order="queue"`` by priority, then
    oldest first event, then id: the order an operator works the queue in.
    """
    c = incidents.c
    conds: list[Any] = []
    if flt.handling:
        conds.append(c.handling.in_(flt.handling))
    if flt.site is not None:
        conds.append(c.site == flt.site)
    if flt.alarm_type is not None:
        conds.append(or_(c.alarm_type == flt.alarm_type, c.alarm_code == flt.alarm_type))
    if flt.priority:
        conds.append(c.priority.in_(flt.priority))
    if flt.opened_from_us is not None:
        conds.append(c.opened_us >= flt.opened_from_us)
    if flt.opened_to_us is not None:
        conds.append(c.opened_us < flt.opened_to_us)
    if flt.exercise is not None:
        conds.append(c.exercise == flt.exercise)
    sort: list[Any]
    if order == "queue":
        sort = [c.priority, c.first_event_us, c.id]
        if after is not None:
            conds.append(tuple_(c.priority, c.first_event_us, c.id) > tuple_(*after))
    else:
        sort = [c.id.desc()]
        if after is not None:
            conds.append(c.id < after[0])
    stmt = select(incidents).where(and_(*conds)).order_by(*sort).limit(limit + 1)
    rows = list(conn.execute(stmt).mappings())
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        key = [last["priority"], last["first_event_us"], last["id"]] if order == "queue" else [last["id"]]
        nxt = encode_cursor(key)
    return [incident_from_row(r) for r in rows], nxt
