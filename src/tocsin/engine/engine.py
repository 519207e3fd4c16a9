"""The engine's face to the API: async calls that become writer jobs.

Everything that changes incidents goes through here, so the API, the CLI and future
ingest adapters share one path (and later, one guard and one audit hook).
"""

from __future__ import annotations

from collections.abc import Sequence

from tocsin._internal.clock import Clock, system_clock
from tocsin.audit.log import AuditRecord, Justification
from tocsin.engine.actions import ActionResult, action_job
from tocsin.engine.ingest import IngestResult, ingest_job
from tocsin.engine.policy import check_alarm_type
from tocsin.engine.state import EngineState
from tocsin.errors import Conflict
from tocsin.metrics import Metrics
from tocsin.model import ActionRequest, Actor, AlarmType, EventIn
from tocsin.store import repo
from tocsin.store.writer import Tx, Writer

__all__ = ("Engine",)


class Engine:
    """Ingest, act and configure; each call returns once its effect is durable."""

    def __init__(self, state: EngineState, writer: Writer, metrics: Metrics, clock: Clock = system_clock) -> None:
        self.state = state
        self.writer = writer
        self.metrics = metrics
        self.clock = clock

    async def ingest(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> IngestResult:
        """Store, classify and correlate a batch; returns (event id, incident id) per item."""
        received = self.clock.now_us()
        job = ingest_job(self.state, items, received_us=received, actor=actor, raw=raw)
        result: IngestResult = await self.writer.submit(job, weight=len(items))
        self._count(items, result)
        return result

    def _count(self, items: Sequence[EventIn], result: IngestResult) -> None:
        counts: dict[tuple[str, bool], int] = {}
        for ev in items:
            counts[(ev.method, ev.exercise)] = counts.get((ev.method, ev.exercise), 0) + 1
        for (method, exercise), n in counts.items():
            self.metrics.events_received.labels(method, str(exercise).lower()).inc(n)
        self.metrics.open_incidents.set(len(self.state.index))

    async def act(self, incident_id: int, request: ActionRequest, actor: Actor) -> ActionResult:
        job = action_job(self.state, incident_id, request, actor, now_us=self.clock.now_us())
        result: ActionResult = await self.writer.submit(job)
        self.metrics.actions.labels(request.action).inc()
        self.metrics.open_incidents.set(len(self.state.index))
        return result

    async def add_alarm_type(self, alarm_type: AlarmType, actor: Actor) -> AlarmType:
        """Add a type to the dictionary, through the protected-category guard.

        Raises:
            GuardRefusal: refused, or needing review without a justification.
            Conflict: the code or key is already in use.
        """
        now = self.clock.now_us()
        judgement = check_alarm_type(alarm_type)

        def job(tx: Tx) -> AlarmType:
            taken = repo.alarm_type_exists(tx.conn, alarm_type.code, alarm_type.key)
            if taken is not None:
                value = alarm_type.code if taken == "code" else alarm_type.key
                raise Conflict(f"an alarm type with {taken} {value!r} already exists")
            repo.insert_alarm_types(tx.conn, [repo.alarm_type_row(alarm_type, at_us=now, actor=actor.name)])
            repo.insert_alarm_type_changes(
                tx.conn,
                [
                    repo.alarm_type_change_row(
                        alarm_type, at_us=now, actor=actor.name, change="added", verdict=judgement.verdict
                    )
                ],
            )
            justification = (
                Justification(purpose="maintenance", text=alarm_type.justification)
                if alarm_type.justification
                else None
            )
            self.state.audit(
                tx,
                [
                    AuditRecord(
                        "alteration",
                        "alarm_type.add",
                        actor.name,
                        actor.role,
                        objects={"alarm_types": [alarm_type.code]},
                        justification=justification,
                        detail={"verdict": judgement.verdict},
                    )
                ],
                now,
            )
            tx.after_rollback(self.state.reload)
            self.state.dictionary.add(alarm_type)
            return alarm_type

        return await self.writer.submit(job)
