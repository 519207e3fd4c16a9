"""Events in, incidents out: the job that classifies, deduplicates, correlates and stores.

One call handles one accepted request (a batch). It runs on the writer thread inside the
group commit, so correlation sees every earlier event in order, and the caller learns the
ids only once they are durable. Idempotency: an event whose (source, external_id) is
already stored, or repeated within the batch, is not stored again; its original ids are
returned in its place.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from tocsin._internal.clock import from_us, to_us
from tocsin.audit.log import AuditRecord, id_ranges
from tocsin.engine.classify import UNCLASSIFIED
from tocsin.engine.correlate import OpenIncident, correlation_key
from tocsin.engine.state import Change, EngineState, OutboxItem
from tocsin.model import Actor, EventIn, Handling
from tocsin.store import repo
from tocsin.store.writer import Tx, deferred_only

__all__ = ("IngestResult", "ingest_job")

_encode = msgspec.json.Encoder().encode

IngestResult = list[tuple[int, int | None]]
"""(event id, incident id or None) per event, in request order."""


def _summary(inc: OpenIncident) -> dict[str, Any]:
    """The fields of an incident a live view needs to update its row."""
    return {
        "id": inc.id,
        "event_count": inc.count,
        "condition": inc.condition,
        "priority": inc.priority,
        "alarm_type": inc.key[0],
        "last_event_at": from_us(inc.last_us).isoformat(),
    }


# A new incident's four timestamps are one or two values (received, occurred), repeated
# across a batch: converting each once halves the cost of its notification payload.
_datetime_of = functools.lru_cache(maxsize=1024)(from_us)


def _incident_json(row: dict[str, Any]) -> dict[str, Any]:
    built: dict[str, Any] = msgspec.to_builtins(repo.incident_from_row(row, at=_datetime_of))
    return built


class _Batch:
    """Rows and side effects accumulated by one ingest job."""

    __slots__ = ("changes", "events", "moved_first", "new", "outbox", "outbox_items", "timeline", "touched", "updates")

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.new: dict[int, dict[str, Any]] = {}
        self.touched: dict[int, OpenIncident] = {}
        self.moved_first: set[int] = set()
        """Incidents whose first event time an older event moved back (rare: see ``repo.update_touched``)."""
        self.timeline: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.outbox_items: list[OutboxItem] = []
        self.changes: list[Change] = []

    def notify(
        self, state: EngineState, kind: str, inc: dict[str, Any], priority: int, exercise: bool, at: int
    ) -> None:
        rows, items = state.outbox_rows(kind, inc, priority=priority, exercise=exercise, at_us=at)
        self.outbox.extend(rows)
        self.outbox_items.extend(items)
        self.changes.append(Change(kind, inc["id"], at, inc))


class _IngestSink:
    """Writes the rows of every ingest job of a group commit in one go (writer thread).

    One multi-row statement per table for the whole group instead of five statements per
    request: at a thousand single-event requests a second, the number of driver calls
    decides how long a group commit takes (see ``tocsin.store.writer``).
    """

    def flush(self, conn: Connection, items: list[_Batch]) -> None:
        repo.insert_events(conn, [row for b in items for row in b.events])
        repo.insert_incidents(conn, [row for b in items for row in b.new.values()])
        repo.update_touched(conn, [row for b in items for row in b.updates])
        repo.insert_timeline(conn, [row for b in items for row in b.timeline])
        repo.insert_outbox(conn, [row for b in items for row in b.outbox])


_SINK = _IngestSink()
_CLAIMED = "ingest.claimed"
"""``Tx.group`` key: (source, external_id) -> ids stored by earlier jobs of the group, whose
rows are not in the database yet; a repeat in a later job must find them all the same (and
in ``Tx.earlier``, those of groups staged but not yet committed)."""


def ingest_job(
    state: EngineState,
    items: Sequence[EventIn],
    *,
    received_us: int,
    actor: Actor,
    raw: Sequence[str | None] | None = None,
) -> Any:
    """Build the writer job for one batch; the job returns an ``IngestResult``.

    The job writes only through ``Tx.defer`` (``deferred_only``): its rows join those of
    the other ingest jobs of the group commit.
    """

    @deferred_only
    def job(tx: Tx) -> IngestResult:
        tx.after_rollback(state.reload)
        claimed: dict[tuple[str, str], tuple[int, int | None]] = tx.group.setdefault(_CLAIMED, {})
        keys = {(e.source, e.external_id) for e in items if e.external_id is not None}
        known: dict[tuple[str, str], tuple[int, int | None]] = {}
        for pending in (claimed, *(g[_CLAIMED] for g in tx.earlier if _CLAIMED in g)):  # earlier: still committing
            known.update((k, pending[k]) for k in keys if k in pending)
        unknown = [k for k in keys if k not in known]
        if unknown:
            known.update(repo.find_existing(tx.conn, unknown))
        batch = _Batch()
        results: IngestResult = []
        stored: dict[tuple[str, str], tuple[int, int | None]] = {}
        for pos, ev in enumerate(items):
            if ev.external_id is not None:
                hit = known.get((ev.source, ev.external_id))
                if hit is not None:
                    results.append(hit)
                    continue
            result = _one(state, batch, ev, received_us, raw[pos] if raw is not None else None)
            if ev.external_id is not None:
                known[(ev.source, ev.external_id)] = stored[(ev.source, ev.external_id)] = result
            results.append(result)
        batch.updates = [
            {
                "b_id": inc.id,
                "b_last": inc.last_us,
                "b_first": inc.first_us,
                "b_first_moved": inc.id in batch.moved_first,
                "b_added": added,
                "b_condition": inc.condition,
                "b_updated": received_us,
                "b_lat": inc.lat,
                "b_lon": inc.lon,
            }
            for inc, added in _added(batch)
        ]
        tx.defer(_SINK, batch)
        event_ids = [row["id"] for row in batch.events]
        touched = {row["incident_id"] for row in batch.events if row["incident_id"] is not None}
        state.audit(
            tx,
            [
                AuditRecord(
                    "collection",
                    "events.ingest",
                    actor.name,
                    actor.role,
                    objects={"events": id_ranges(event_ids), "incidents": id_ranges(list(touched))},
                    detail={"count": len(items), "stored": len(event_ids), "opened": len(batch.new)},
                )
            ],
            received_us,
        )
        if state.listening():  # only live views want per-event updates; skip the work otherwise
            for inc, _ in _added(batch):
                batch.changes.append(Change("incident.updated", inc.id, received_us, _summary(inc)))
        if batch.changes:
            tx.after_commit(lambda: state.publish(batch.changes))
        if batch.outbox_items:
            tx.after_commit(lambda: state.deliver(batch.outbox_items))
        claimed.update(stored)  # last: a job that raised before here claimed nothing
        return results

    return job


def _added(batch: _Batch) -> list[tuple[OpenIncident, int]]:
    """Existing incidents touched by the batch, with how many events each gained."""
    counts: dict[int, int] = {}
    for row in batch.events:
        iid = row["incident_id"]
        if iid is not None and iid in batch.touched:
            counts[iid] = counts.get(iid, 0) + 1
    return [(batch.touched[iid], n) for iid, n in counts.items()]


def _one(state: EngineState, batch: _Batch, ev: EventIn, received_us: int, raw: str | None) -> tuple[int, int | None]:
    alarm = state.dictionary.classify(ev.type)
    unmapped = ev.type if alarm is UNCLASSIFIED else None
    occurred = to_us(ev.occurred_at) if ev.occurred_at is not None else received_us
    loc = ev.location
    lat, lon = (loc.lat, loc.lon) if loc is not None else (None, None)
    key = correlation_key(alarm.key, ev.site, ev.source, ev.exercise, unmapped, lat, lon)
    cleared = ev.condition == "cleared"
    window = None if cleared else alarm.correlation_window * 1_000_000
    inc = state.index.match(key, occurred, window, lat, lon, alarm.radius_m)
    event_id = state.next_event_id()
    incident_id: int | None
    if inc is not None:
        incident_id = inc.id
        state.index.touch(inc, occurred)
        inc.count += 1
        if occurred < inc.first_us:
            inc.first_us = occurred
            batch.moved_first.add(inc.id)
        if inc.lat is None and lat is not None:
            inc.lat, inc.lon = lat, lon
        new_row = batch.new.get(inc.id)
        if inc.condition != ev.condition:
            inc.condition = ev.condition
            _condition_changed(state, batch, inc, ev, event_id, received_us)
        if new_row is not None:
            new_row.update(
                last_event_us=inc.last_us,
                first_event_us=inc.first_us,
                event_count=inc.count,
                condition=inc.condition,
                lat=inc.lat,
                lon=inc.lon,
            )
        else:
            batch.touched[inc.id] = inc
    elif not cleared:
        incident_id = state.next_incident_id()
        inc = OpenIncident(
            incident_id,
            key,
            occurred,
            lat,
            lon,
            first_us=occurred,
            count=1,
            condition="active",
            priority=alarm.priority,
        )
        state.index.add(inc)
        title = f"{alarm.name}: {ev.type}" if unmapped else alarm.name
        row = {
            "id": incident_id,
            "alarm_type": alarm.key,
            "alarm_code": alarm.code,
            "priority": alarm.priority,
            "category": alarm.category,
            "handling": Handling.NEW.value,
            "condition": "active",
            "site": ev.site,
            "lat": lat,
            "lon": lon,
            "first_event_us": occurred,
            "last_event_us": occurred,
            "event_count": 1,
            "opened_us": received_us,
            "updated_us": received_us,
            "exercise": ev.exercise,
            "assignee": None,
            "disposition": None,
            "merged_into": None,
            "unmapped_type": unmapped,
            "title": f"{title} at {ev.site}" if ev.site else title,
        }
        batch.new[incident_id] = row
        batch.timeline.append(
            {
                "incident_id": incident_id,
                "at_us": received_us,
                "actor": "system",
                "action": "open",
                "from_state": None,
                "to_state": Handling.NEW.value,
                "text": f"opened by event {event_id} ({ev.method}) from {ev.source}",
                "data": _encode({"event_id": event_id}).decode(),
            }
        )
        batch.notify(state, "incident.opened", _incident_json(row), alarm.priority, ev.exercise, received_us)
    else:
        incident_id = None  # a restore with nothing open to clear: kept, attached to nothing
    batch.events.append(
        {
            "id": event_id,
            "source": ev.source,
            "external_id": ev.external_id,
            "type": ev.type,
            "alarm_type": alarm.key,
            "method": ev.method,
            "site": ev.site,
            "occurred_us": occurred,
            "received_us": received_us,
            "condition": ev.condition,
            "exercise": ev.exercise,
            "lat": lat,
            "lon": lon,
            "description": ev.description,
            "attributes": _encode(ev.attributes).decode() if ev.attributes else None,
            "raw": raw,
            "incident_id": incident_id,
        }
    )
    return event_id, incident_id


def _condition_changed(
    state: EngineState, batch: _Batch, inc: OpenIncident, ev: EventIn, event_id: int, at: int
) -> None:
    batch.timeline.append(
        {
            "incident_id": inc.id,
            "at_us": at,
            "actor": ev.source,
            "action": "condition",
            "from_state": None,
            "to_state": ev.condition,
            "text": f"condition {ev.condition} (event {event_id})",
            "data": _encode({"event_id": event_id}).decode(),
        }
    )
    batch.notify(state, "incident.condition_changed", _summary(inc), inc.priority, ev.exercise, at)
