"""The engine's in-memory state, owned by the writer thread, and its outputs.

The dictionary, the correlation index and the id counters live here, beside the
hooks that carry committed changes out: ``publish`` (the live stream) and ``deliver``
(the webhook outbox). State is loaded from the store at start and rebuilt from it after
any rollback, so memory never disagrees with what is durable.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from tocsin.audit.log import AUDIT_SINK, AuditRecord
from tocsin.audit.log import append as audit_append
from tocsin.config import WebhookConfig
from tocsin.engine.classify import UNCLASSIFIED, Dictionary, load_default_types
from tocsin.engine.correlate import CorrelationIndex, OpenIncident, correlation_key
from tocsin.engine.mapping import effective_mappings
from tocsin.engine.policy import judge_alarm_type
from tocsin.model import OPEN_STATES, UNCLASSIFIED_KEY, AlarmType
from tocsin.store import links, repo
from tocsin.store.writer import Tx

__all__ = ("Change", "EngineState", "OutboxItem")

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


class Change(msgspec.Struct, frozen=True):
    """One committed change to an incident, as the live stream and webhooks see it.

    ``kind`` is ``incident.opened``, ``incident.updated`` (new events correlated),
    ``incident.state_changed`` (handling) or ``incident.condition_changed``.
    """

    kind: str
    incident_id: int
    at_us: int
    incident: dict[str, Any]


class OutboxItem(msgspec.Struct, frozen=True):
    """A notification durably queued for one webhook."""

    id: int
    channel: str
    payload: bytes
    attempts: int = 0
    incident_id: int = 0


class EngineState:
    """See the module docstring. All mutation happens on the writer thread."""

    def __init__(
        self,
        webhooks: Sequence[WebhookConfig] = (),
        *,
        publish: Callable[[list[Change]], None] | None = None,
        deliver: Callable[[list[OutboxItem]], None] | None = None,
        audited: Callable[[], None] | None = None,
        listening: Callable[[], bool] | None = None,
    ) -> None:
        self.dictionary = Dictionary()
        self.index = CorrelationIndex()
        self.webhooks = list(webhooks)
        self.publish = publish or (lambda _changes: None)
        self.deliver = deliver or (lambda _items: None)
        self.audited = audited or (lambda: None)
        self.listening = listening or (lambda: True)
        self._last_event_id = 0
        """The highest event id given out: ``next_event_id`` counts on from it."""
        self.linked_through = 0
        """The store's link mark (``tocsin.store.links``), as of the last commit or reload."""
        self._incident_ids: Iterator[int] = itertools.count(1)
        self._outbox_ids: Iterator[int] = itertools.count(1)

    # -- ids ---------------------------------------------------------------------------

    def next_event_id(self) -> int:
        self._last_event_id += 1
        return self._last_event_id

    def unlinked(self) -> int:
        """About how many events are past the link mark (ids given out, so rolled-back ones too)."""
        return self._last_event_id - self.linked_through

    def link(self, tx: Tx) -> int:
        """Writer job: link the events past the mark; returns how many ids the mark moved."""
        tx.after_rollback(self.reload)
        before = self.linked_through
        self.linked_through = links.link_tail(tx.conn)
        return self.linked_through - before

    def next_incident_id(self) -> int:
        return next(self._incident_ids)

    # -- loading -----------------------------------------------------------------------

    def bootstrap(self, conn: Connection, *, now_us: int) -> int:
        """Seed the default dictionary into an empty store, then load everything.

        Returns the number of alarm types seeded (0 when the store already had some).
        """
        seeded = 0
        if not repo.any_alarm_types(conn):  # ever defined, retired ones included: seed once only
            accepted: list[tuple[AlarmType, str]] = []
            for t in [UNCLASSIFIED, *load_default_types()]:
                verdict = judge_alarm_type(t).verdict
                if verdict == "refused" or (verdict == "review" and not t.justification):
                    # A shipped type the guard will not pass is left out, loudly, never seeded.
                    log.error("default alarm type not seeded", extra={"code": t.code, "verdict": verdict})
                    continue
                accepted.append((t, verdict))
            repo.insert_alarm_types(
                conn,
                [repo.alarm_type_row(t, at_us=now_us, actor="system", builtin=True) for t, _ in accepted],
            )
            repo.insert_alarm_type_changes(
                conn,
                [
                    repo.alarm_type_change_row(t, at_us=now_us, actor="system", change="added", verdict=v)
                    for t, v in accepted
                ],
            )
            audit_append(
                conn,
                [
                    AuditRecord(
                        "alteration",
                        "alarm_type.seed",
                        "system",
                        "system",
                        objects={"alarm_types": [t.code for t, _ in accepted]},
                    )
                ],
                at_us=now_us,
            )
            seeded = len(accepted)
        self.reload(conn)
        return seeded

    def reload(self, conn: Connection) -> None:
        """Rebuild dictionary, index and counters from the store (start, or after a rollback).

        Links the unlinked tail first: loading the open incidents looks up each one's first
        event, which must not scan the tail once per incident.
        """
        self.linked_through = links.link_tail(conn)
        types = [t for t in repo.list_alarm_types(conn) if t.key != UNCLASSIFIED_KEY]
        known = {t.key for t in types} | {UNCLASSIFIED_KEY}
        self.dictionary.replace(types, effective_mappings(conn, known))
        self.index.load(self._open_from_row(r) for r in repo.load_open_incidents(conn, OPEN_STATES))
        top = repo.max_ids(conn)
        self._last_event_id = top["events"]
        self._incident_ids = itertools.count(top["incidents"] + 1)
        self._outbox_ids = itertools.count(top["outbox"] + 1)
        log.info(
            "engine state loaded",
            extra={"alarm_types": len(self.dictionary), "open_incidents": len(self.index)},
        )

    def retrack(self, conn: Connection, incident_ids: Sequence[int]) -> None:
        """Re-read these incidents into the index (or drop them if no longer open)."""
        for incident_id in incident_ids:
            self.index.remove(incident_id)
        for row in repo.load_open_incidents(conn, OPEN_STATES, incident_ids):
            self.index.add(self._open_from_row(row))

    @staticmethod
    def _open_from_row(row: Any) -> OpenIncident:
        key = correlation_key(
            row["alarm_type"],
            row["site"],
            row["source"] or "",
            bool(row["exercise"]),
            row["unmapped_type"],
            row["lat"],
            row["lon"],
        )
        return OpenIncident(
            row["id"],
            key,
            row["last_event_us"],
            row["lat"],
            row["lon"],
            first_us=row["first_event_us"],
            count=row["event_count"],
            condition=row["condition"],
            priority=row["priority"],
        )

    # -- accountability ----------------------------------------------------------------

    def audit(self, tx: Tx, records: Sequence[AuditRecord], at_us: int) -> None:
        """Append audit records in the job's own transaction (durable with the operation)."""
        tx.defer(AUDIT_SINK, (records, at_us))
        tx.after_commit(self.audited)

    # -- notifications -----------------------------------------------------------------

    def outbox_rows(
        self, kind: str, incident: dict[str, Any], *, priority: int, exercise: bool, at_us: int
    ) -> tuple[list[dict[str, Any]], list[OutboxItem]]:
        """Outbox rows (and their in-memory twins) for every webhook this change concerns."""
        rows: list[dict[str, Any]] = []
        items: list[OutboxItem] = []
        if not self.webhooks:
            return rows, items
        payload: bytes | None = None
        for hook in self.webhooks:
            if priority > hook.min_priority or (exercise and not hook.include_exercise):
                continue
            if payload is None:
                payload = _encode({"event": kind, "at_us": at_us, "incident": incident})
            outbox_id = next(self._outbox_ids)
            rows.append(
                {
                    "id": outbox_id,
                    "channel": hook.label,
                    "payload": payload.decode(),
                    "created_us": at_us,
                    "next_attempt_us": at_us,
                    "attempts": 0,
                    "state": "pending",
                }
            )
            items.append(OutboxItem(outbox_id, hook.label, payload, 0, incident["id"]))
        return rows, items
