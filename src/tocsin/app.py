"""Composition root: build the parts, wire them together, start and stop them in order.

No business logic lives here. Start order: open and migrate the database, load engine
state, start the writer, resume the outbox. Stop order is the reverse, and the writer
drains its queue before the database closes, so an accepted request is never cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from sqlalchemy import Connection

from tocsin import __version__
from tocsin._internal import heap
from tocsin._internal.clock import Clock, from_us, system_clock
from tocsin.api.accounts import create_user, login, logout, me, patch_user, users_list
from tocsin.api.alarm_types import (
    change_alarm_type,
    create_alarm_type,
    import_alarm_types,
    list_alarm_types,
    retire_alarm_type,
)
from tocsin.api.audit import audit_checkpoint, audit_consistency, audit_inclusion, audit_records_page
from tocsin.api.errors import EXCEPTION_HANDLERS
from tocsin.api.events import post_events
from tocsin.api.fast_ingest import TocsinApp
from tocsin.api.incidents import act_on_incident, get_incident, list_incidents
from tocsin.api.ingest import export_cap, ingest_cap, ingest_hikvision, ingest_onvif
from tocsin.api.mappings import list_mappings, set_mapping
from tocsin.api.operations import site_list, stats, webhooks_list
from tocsin.api.security import PUBLIC_PATHS, BearerAuth
from tocsin.api.stream import stream
from tocsin.api.system import healthz, metrics
from tocsin.api.tokens import token_create, token_revoke, tokens_list
from tocsin.api.transparency import transparency_html, transparency_json
from tocsin.audit.log import (
    AuditIntegrityError,
    AuditRecord,
    default_origin,
    load_signer,
    sign_new_checkpoint,
)
from tocsin.audit.merkle import SubtreeCache
from tocsin.auth.ratelimit import LoginLimiter
from tocsin.auth.tokens import Credentials
from tocsin.bus.memory import MemoryBus
from tocsin.config import Settings, audit_key_path
from tocsin.console.routes import console_handlers
from tocsin.engine.engine import Engine
from tocsin.engine.ingest import IngestResult
from tocsin.engine.policy import check_events, events_refusal, refusal_record
from tocsin.engine.state import Change, EngineState, OutboxItem
from tocsin.errors import TocsinError
from tocsin.guard import Judgement
from tocsin.guard.lexicon import load_lexicon
from tocsin.ingest.camera_poll import CameraPoller
from tocsin.ingest.camera_push import PushSupervisor
from tocsin.ingest.cap_poll import CapFeedPoller
from tocsin.ingest.mqtt import MqttSubscriber
from tocsin.ingest.sia import SiaReceiver
from tocsin.ingest.sia import validate_config as validate_sia_config
from tocsin.ingest.sia_process import SiaProcess
from tocsin.ingest.supervision import COMM_FAILURE, EPISODE_MARK
from tocsin.metrics import Metrics
from tocsin.model import OPEN_STATES, Actor, EventIn
from tocsin.notify.outbox import OutboxDeliverer
from tocsin.retention import BATCH, purge_batch
from tocsin.store import repo
from tocsin.store.sqlite import Database, open_database
from tocsin.store.writer import Tx, deferred_only

__all__ = ("Runtime", "build_app")

log = logging.getLogger(__name__)
LINK_INTERVAL_S = 1.0
"""How often events left unlinked by slow ingest are linked (``tocsin.store.links``)."""


class Runtime:
    """The running parts of one tocsin server."""

    def __init__(self, settings: Settings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.bus = MemoryBus(settings.limits.sse_queue)
        self.db: Database = open_database(settings.db, synchronous=settings.synchronous)
        self.writer = self.db.writer(
            max_pending=settings.limits.max_pending_events, max_group_weight=settings.limits.max_commit_events
        )
        self.writer.stats.observer = self.metrics.observe_commit
        self.state = EngineState(
            settings.webhook,
            publish=self._publish,
            deliver=self._deliver,
            audited=self._audited,
            listening=lambda: self.bus.subscribers > 0,
        )
        self.engine = Engine(self.state, self.writer, self.metrics, clock)
        self.credentials = Credentials(self.db)
        self.login_limiter = LoginLimiter()
        self.audit_origin = settings.audit_origin or default_origin()
        self.signer = load_signer(audit_key_path(settings), self.audit_origin)
        self.audit_healthy = True
        self.proof_cache = SubtreeCache()  # complete subtrees never change: proofs get cheap
        self._audit_grew = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.mqtt: MqttSubscriber | None = None
        self.sia: SiaReceiver | SiaProcess | None = None
        self.push_cameras = PushSupervisor(settings.push_camera, self.accept)
        self.deliverer = OutboxDeliverer(
            self.db,
            self.writer,
            settings.webhook,
            observe=lambda hook, outcome, s: self.metrics.webhook.labels(hook, outcome).observe(s),
            audit=self.audit_append,
        )

    def _publish(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.kind == "incident.opened":
                inc = change.incident
                self.metrics.incidents_opened.labels(
                    str(inc["priority"]), str(inc.get("exercise", False)).lower()
                ).inc()
        if self.bus.subscribers:
            self.bus.publish(changes)

    def _deliver(self, items: Sequence[OutboxItem]) -> None:
        self.deliverer.enqueue(items)

    # -- accountability ----------------------------------------------------------------

    def _audited(self) -> None:
        self._audit_grew.set()

    def audit_append(self, tx: Tx, records: Sequence[AuditRecord], at_us: int) -> None:
        """Append records inside a writer job (durable together with the job's writes)."""
        self.state.audit(tx, records, at_us)

    async def audit_event(self, record: AuditRecord) -> None:
        """Write one audit record on its own (a consultation, a refusal, a login)."""
        now = self.clock.now_us()
        # Writes only through the audit sink: joins the group's ingest rows, no savepoint.
        # Urgent: a person (or device) waits for the answer this record is part of.
        await self.writer.submit(deferred_only(lambda tx: self.audit_append(tx, [record], now)), urgent=True)

    async def accept(
        self,
        items: Sequence[EventIn],
        actor: Actor,
        *,
        raw: Sequence[str | None] | None = None,
        urgent: bool = False,
        overlap: bool = False,
    ) -> IngestResult:
        """The one door for events, whatever adapter they came through: guard, then durable ingest.

        Returns once every event is committed (so an adapter may acknowledge its sender).

        Raises:
            GuardRefusal: an event type or attribute is refused (nothing is stored; audited).
            StoreUnavailable: overloaded; the sender should retry.
        """
        refused = check_events(items)
        if refused:
            await self.refused(actor, "event", [j for _, j in refused])
            raise events_refusal(refused, len(items))
        return await self.engine.ingest(items, actor, raw=raw, urgent=urgent, overlap=overlap)

    async def accept_urgent(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> IngestResult:
        """``accept`` for a sender that waits for each answer before it sends the next: an
        alarm panel holding its alarms until they are ACKed. Committed ahead of queued bulk
        ingest (``Writer.submit``), so an HTTP flood cannot hold a panel's alarms back."""
        return await self.accept(items, actor, raw=raw, urgent=True)

    async def accept_journaled(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None, judged: bool = False
    ) -> IngestResult:
        """``accept`` for alarms the SIA receiver has already ACKed from its journal: still
        ahead of queued bulk ingest, so an HTTP flood cannot delay them reaching operators,
        but nobody waits on their COMMIT, so it overlaps the next group's work
        (``Writer.submit(overlap=True)``).

        ``judged``: the receiver process (our own child, over its private link) ran this
        guard on every event just before journaling them and journals nothing it refuses
        (``sia_link.Submit.judged``), so they are not judged a second time. Judging them
        again here took about a quarter of this process's busy time under ``bench/sia.py``
        (py-spy); without it, runs taken in turns at full host speed gave 18.5k against
        17.1k frames/s (means of 6 and 8 runs). Entries the receiver replays from an
        earlier process's journal come with ``judged`` False and are judged here.
        """
        if not judged:
            return await self.accept(items, actor, raw=raw, urgent=True, overlap=True)
        return await self.engine.ingest(items, actor, raw=raw, urgent=True, overlap=True)

    async def refused(self, actor: Actor, subject: str, judgements: Sequence[Judgement]) -> None:
        """Count and audit guard refusals (one record each: field and concepts, never content)."""
        now = self.clock.now_us()
        records = [refusal_record(actor, subject, j) for j in judgements]
        self.metrics.guard_refusals.labels(subject).inc(len(records))
        await self.writer.submit(lambda tx: self.audit_append(tx, records, now))

    async def sign_checkpoint(self) -> str | None:
        """Sign the audit tree now if it grew; refuses (and marks unhealthy) if inconsistent."""
        now = self.clock.now_us()
        try:
            return await self.writer.submit(
                lambda tx: sign_new_checkpoint(tx.conn, self.signer, self.audit_origin, at_us=now)
            )
        except AuditIntegrityError as exc:
            self.audit_healthy = False
            log.critical("audit checkpoint refused", extra={"error": exc.detail})
            return None

    async def _checkpoint_loop(self) -> None:
        while True:
            await self._audit_grew.wait()
            self._audit_grew.clear()
            await self.sign_checkpoint()
            await asyncio.sleep(self.settings.audit_checkpoint_s)

    async def _link_loop(self) -> None:
        """Link what ingest left unlinked once a second, so the tail readers scan stays short."""
        while True:
            await asyncio.sleep(LINK_INTERVAL_S)
            self.engine.link_soon()

    async def purge_expired(self) -> tuple[int, int]:
        """Run retention to completion in bounded batches; returns (events, incidents) purged."""
        now = self.clock.now_us()
        events = incidents = 0
        while True:
            job = purge_batch(now_us=now, actor="system", role="system", audit=self.audit_append)
            result = await self.writer.submit(job, weight=BATCH)
            events += result.events
            incidents += result.incidents
            if result.done:
                if events or incidents:
                    log.info("retention purge", extra={"events": events, "incidents": incidents})
                return events, incidents

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retention_interval_s)
            try:
                await self.purge_expired()
            except TocsinError as exc:
                log.warning("retention run failed; will retry", extra={"error": exc.detail})

    def sia_health(self) -> str | None:
        """``ok``, or why panels are not being answered; None without a SIA receiver."""
        if self.sia is None:
            return None
        return "ok" if self.sia.serving else "receiver process down; a new one is starting"

    def writer_alive(self) -> bool:
        thread = self.writer._thread
        return thread is not None and thread.is_alive()

    async def start(self) -> None:
        load_lexicon()  # compile the guard's automata now, not on the first event
        seeded = self.writer.run_blocking(lambda tx: self.state.bootstrap(tx.conn, now_us=self.clock.now_us()))
        if seeded:
            log.info("alarm-type dictionary seeded", extra={"types": seeded})
        outages = self.writer.run_blocking(lambda tx: self._open_outages(tx.conn))
        self.writer.start()
        await self.deliverer.start()
        await self.sign_checkpoint()
        self._tasks.append(asyncio.create_task(self._checkpoint_loop()))
        self._tasks.append(asyncio.create_task(self._link_loop()))
        sia = self.settings.sia
        if sia is not None:
            if sia.own_process:
                if sia.journal and sia.journal_dir is None:  # next to the database it feeds
                    db = Path(self.settings.db)
                    sia = msgspec.structs.replace(sia, journal_dir=str(db.with_name(db.name + ".sia-journal")))
                self.sia = SiaProcess(
                    sia, self.accept_urgent, accept_journaled=self.accept_journaled, reload_outages=self._reload_outages
                )
            else:
                validate_sia_config(sia)
                self.sia = SiaReceiver(sia, self.accept_urgent)
            await self.sia.start(outages)
            self.metrics.watch_sia(self.sia.metrics)
            if isinstance(self.sia, SiaProcess):
                process = self.sia
                self.metrics.sia_journal_pending.set_function(lambda: process.journal_pending)
        self.push_cameras.start(outages)
        for camera in self.settings.camera:
            counter = self.metrics.dropped_fields.labels(camera.vendor)
            poller = CameraPoller(camera, self.accept, on_dropped=counter.inc, outages=outages)
            self._tasks.append(asyncio.create_task(poller.run()))
        for feed in self.settings.cap_feed:
            self._tasks.append(asyncio.create_task(CapFeedPoller(feed, self.accept).run()))
        if self.settings.mqtt is not None:
            self.mqtt = MqttSubscriber(
                self.settings.mqtt,
                self.accept,
                self.state.dictionary.classify,
                on_dropped=lambda n: self.metrics.dropped_fields.labels("frigate").inc(n),
            )
            self._tasks.append(asyncio.create_task(self.mqtt.run()))
        if self.settings.retention_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._retention_loop()))
        log.info(
            "tocsin started",
            extra={
                "db": str(self.db.path),
                "webhooks": len(self.settings.webhook),
                "sia_tcp": self.sia.bound_tcp if self.sia else None,
                "sia_udp": self.sia.bound_udp if self.sia else None,
            },
        )

    @staticmethod
    def _open_outages(conn: Connection) -> dict[str, datetime]:
        """Comm failures the store still holds open, by source, for the supervisors to resume."""
        found = repo.open_episodes(conn, COMM_FAILURE, OPEN_STATES, EPISODE_MARK)
        if found:
            log.info("comm failures open before the restart", extra={"sources": len(found)})
        return {source: from_us(at) for source, at in found.items()}

    async def _reload_outages(self) -> dict[str, datetime]:
        outages: dict[str, datetime] = await self.writer.submit(lambda tx: self._open_outages(tx.conn))
        return outages

    async def stop(self) -> None:
        if self.sia is not None:
            await self.sia.stop()
        await self.push_cameras.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.deliverer.stop()
        await self.sign_checkpoint()
        self.writer.stop()
        self.db.close()
        log.info("tocsin stopped")


def build_app(settings: Settings, *, clock: Clock = system_clock) -> Litestar:
    """The ASGI application for ``settings``; parts start in its lifespan."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = Runtime(settings, clock=clock)
        app.state.runtime = runtime
        await runtime.start()
        unsettle = heap.settle()  # what exists now lives as long as the process; see tocsin._internal.heap
        try:
            yield
        finally:
            await runtime.stop()
            unsettle()

    # console pages check the session themselves: without one they redirect to the login page
    auth = DefineMiddleware(BearerAuth, exclude=[*(f"^{p}$" for p in PUBLIC_PATHS), "^/$", "^/console(/.*)?$"])
    config = AppConfig(
        route_handlers=[
            post_events,
            ingest_onvif,
            ingest_hikvision,
            ingest_cap,
            export_cap,
            list_incidents,
            get_incident,
            act_on_incident,
            list_alarm_types,
            create_alarm_type,
            import_alarm_types,
            change_alarm_type,
            retire_alarm_type,
            list_mappings,
            set_mapping,
            stream,
            login,
            logout,
            me,
            create_user,
            users_list,
            patch_user,
            tokens_list,
            token_create,
            token_revoke,
            stats,
            site_list,
            webhooks_list,
            *console_handlers(),
            audit_checkpoint,
            audit_records_page,
            audit_inclusion,
            audit_consistency,
            transparency_html,
            transparency_json,
            healthz,
            metrics,
        ],
        lifespan=[lifespan],
        middleware=[auth],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="tocsin", version=__version__, path="/api/v1", render_plugins=[], create_examples=False
        ),
        state=State({}),
        request_max_body_size=settings.limits.max_body_bytes,
        debug=False,
    )
    return TocsinApp.from_config(config)  # Litestar, with POST /api/v1/events answered before routing
