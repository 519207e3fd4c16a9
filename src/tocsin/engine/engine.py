"""The engine's face to the API: async calls that become writer jobs.

Everything that changes incidents goes through here, so the API, the CLI and future
ingest adapters share one path (and later, one guard and one audit hook).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import msgspec

from tocsin._internal.clock import Clock, system_clock
from tocsin.audit.log import AuditRecord, Justification
from tocsin.engine.actions import ActionResult, action_job
from tocsin.engine.ingest import IngestResult, ingest_job
from tocsin.engine.policy import check_alarm_type
from tocsin.engine.state import EngineState
from tocsin.errors import Conflict, FieldError, GuardRefusal, NotFound, StoreError
from tocsin.metrics import Metrics
from tocsin.model import UNCLASSIFIED_KEY, ActionRequest, Actor, AlarmType, EventIn
from tocsin.store import repo
from tocsin.store.links import LINK_BATCH
from tocsin.store.writer import Tx, Writer

__all__ = ("Engine",)

log = logging.getLogger(__name__)


class Engine:
    """Ingest, act and configure; each call returns once its effect is durable."""

    def __init__(self, state: EngineState, writer: Writer, metrics: Metrics, clock: Clock = system_clock) -> None:
        self.state = state
        self.writer = writer
        self.metrics = metrics
        self.clock = clock
        self._linking: asyncio.Future[int] | None = None

    async def ingest(
        self,
        items: Sequence[EventIn],
        actor: Actor,
        *,
        raw: Sequence[str | None] | None = None,
        urgent: bool = False,
        overlap: bool = False,
    ) -> IngestResult:
        """Store, classify and correlate a batch; returns (event id, incident id) per item.

        ``urgent``: the sender waits for this answer before it sends again, or the batch
        must not wait behind bulk ingest; ``overlap``: urgent, but no sender waits on the
        COMMIT (see ``Writer.submit``).
        """
        received = self.clock.now_us()
        job = ingest_job(self.state, items, received_us=received, actor=actor, raw=raw)
        result: IngestResult = await self.writer.submit(job, weight=len(items), urgent=urgent, overlap=overlap)
        self._count(items, result)
        self.link_soon(LINK_BATCH)
        return result

    def link_soon(self, at_least: int = 1) -> None:
        """Start linking if ``at_least`` events wait for it and no linking job is under way."""
        if (self._linking is None or self._linking.done()) and self.state.unlinked() >= at_least:
            self._linking = asyncio.ensure_future(self.link())

    async def link(self) -> int:
        """Link the events past the mark (``tocsin.store.links``); returns how many ids it moved.

        Never raises: an overloaded or failing store leaves the tail for the next try.
        """
        try:
            moved: int = await self.writer.submit(self.state.link)
        except StoreError as exc:
            log.warning("linking events to incidents deferred", extra={"error": exc.detail})
            return 0
        return moved

    def _count(self, items: Sequence[EventIn], result: IngestResult) -> None:
        counts: dict[tuple[str, bool], int] = {}
        for ev in items:
            counts[(ev.method, ev.exercise)] = counts.get((ev.method, ev.exercise), 0) + 1
        for (method, exercise), n in counts.items():
            self.metrics.events_received.labels(method, str(exercise).lower()).inc(n)
        self.metrics.open_incidents.set(len(self.state.index))

    async def act(self, incident_id: int, request: ActionRequest, actor: Actor) -> ActionResult:
        job = action_job(self.state, incident_id, request, actor, now_us=self.clock.now_us())
        # An operator waits for the answer: never behind a queued flood of ingest.
        result: ActionResult = await self.writer.submit(job, urgent=True)
        self.metrics.actions.labels(request.action).inc()
        self.metrics.open_incidents.set(len(self.state.index))
        return result

    async def add_alarm_type(self, alarm_type: AlarmType, actor: Actor) -> AlarmType:
        """Add a type to the dictionary, through the protected-category guard.

        Raises:
            GuardRefusal: refused, or needing review without a justification.
            Conflict: the code or key is already in use.
        """
        return await self._define(alarm_type, actor, change="added")

    async def change_alarm_type(self, alarm_type: AlarmType, actor: Actor) -> AlarmType:
        """Replace the definition of the type with this code (its key may not change).

        Raises:
            GuardRefusal: refused, or needing review without a justification.
            NotFound: no type in force has this code.
            Conflict: the key differs from the stored one.
        """
        return await self._define(alarm_type, actor, change="changed")

    async def retire_alarm_type(self, code: str, actor: Actor, reason: str | None) -> None:
        """Take a type out of force; its history stays, new events of it become unclassified.

        Raises:
            NotFound: no type in force has this code.
            Conflict: the built-in ``unclassified`` type cannot be retired.
        """
        now = self.clock.now_us()

        def job(tx: Tx) -> None:
            current = repo.get_alarm_type(tx.conn, code)
            if current is None:
                raise NotFound(f"no alarm type in force has code {code!r}")
            if current.key == UNCLASSIFIED_KEY:
                raise Conflict("the built-in unclassified type cannot be retired")
            repo.retire_alarm_type(tx.conn, code, at_us=now)
            entry = msgspec.structs.replace(current, justification=reason)
            row = repo.alarm_type_change_row(entry, at_us=now, actor=actor.name, change="retired", verdict="ok")
            repo.insert_alarm_type_changes(tx.conn, [row])
            self._audit_change(tx, actor, "alarm_type.retire", code, reason, "ok", now)
            tx.after_rollback(self.state.reload)
            self.state.reload(tx.conn)

        await self.writer.submit(job)

    async def import_alarm_types(self, types: Sequence[AlarmType], actor: Actor) -> dict[str, int]:
        """Add or change many types at once, all or nothing.

        Every entry goes through the guard first; any refusal (or review without a
        justification) rejects the whole import, listing each offending entry by index.

        Raises:
            GuardRefusal: with one error per offending entry.
            Conflict: an entry changes the key of an existing code.
        """
        errors: list[FieldError] = []
        verdicts: list[str] = []
        for index, t in enumerate(types):
            try:
                verdicts.append(check_alarm_type(t).verdict)
            except GuardRefusal as exc:
                errors.extend(FieldError(message=e.message, index=index, path=e.path) for e in exc.errors)
        if errors:
            raise GuardRefusal(f"{len(errors)} of {len(types)} alarm types are refused; nothing was imported",
                               errors=errors)  # fmt: skip
        now = self.clock.now_us()

        def job(tx: Tx) -> dict[str, int]:
            counts = {"added": 0, "changed": 0}
            for t, verdict in zip(types, verdicts, strict=True):
                current = repo.get_alarm_type(tx.conn, t.code)
                change = "changed" if current is not None else "added"
                self._write_definition(tx, t, actor, change, verdict, now)
                counts[change] += 1
            tx.after_rollback(self.state.reload)
            self.state.reload(tx.conn)
            return counts

        return await self.writer.submit(job, weight=len(types))

    def _write_definition(
        self, tx: Tx, alarm_type: AlarmType, actor: Actor, change: str, verdict: str, now: int
    ) -> None:
        if change == "added":
            taken = repo.alarm_type_exists(tx.conn, alarm_type.code, alarm_type.key)
            if taken is not None:
                value = alarm_type.code if taken == "code" else alarm_type.key
                raise Conflict(f"an alarm type with {taken} {value!r} already exists")
            repo.insert_alarm_types(tx.conn, [repo.alarm_type_row(alarm_type, at_us=now, actor=actor.name)])
        else:
            current = repo.get_alarm_type(tx.conn, alarm_type.code)
            if current is None:
                raise NotFound(f"no alarm type in force has code {alarm_type.code!r}")
            if current.key != alarm_type.key:
                raise Conflict(f"key: {current.key!r} cannot change (incidents refer to it); retire and add instead")
            repo.update_alarm_type(tx.conn, alarm_type, at_us=now)
        row = repo.alarm_type_change_row(alarm_type, at_us=now, actor=actor.name, change=change, verdict=verdict)
        repo.insert_alarm_type_changes(tx.conn, [row])
        action = "alarm_type.add" if change == "added" else "alarm_type.change"
        self._audit_change(tx, actor, action, alarm_type.code, alarm_type.justification, verdict, now)

    async def _define(self, alarm_type: AlarmType, actor: Actor, *, change: str) -> AlarmType:
        now = self.clock.now_us()
        judgement = check_alarm_type(alarm_type)

        def job(tx: Tx) -> AlarmType:
            self._write_definition(tx, alarm_type, actor, change, judgement.verdict, now)
            tx.after_rollback(self.state.reload)
            self.state.dictionary.add(alarm_type)
            return alarm_type

        return await self.writer.submit(job)

    def _audit_change(
        self, tx: Tx, actor: Actor, action: str, code: str, text: str | None, verdict: str, now: int
    ) -> None:
        justification = Justification(purpose="maintenance", text=text) if text else None
        record = AuditRecord(
            "alteration",
            action,
            actor.name,
            actor.role,
            objects={"alarm_types": [code]},
            justification=justification,
            detail={"verdict": verdict},
        )
        self.state.audit(tx, [record], now)
