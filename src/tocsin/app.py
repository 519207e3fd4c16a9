"""Composition root: build the parts, wire them together, start and stop them in order.

No business logic lives here. Start order: open and migrate the database, load engine
state, start the writer, resume the outbox. Stop order is the reverse, and the writer
drains its queue before the database closes, so an accepted request is never cut off.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from tocsin import __version__
from tocsin._internal.clock import Clock, system_clock
from tocsin.api.alarm_types import create_alarm_type, list_alarm_types
from tocsin.api.errors import EXCEPTION_HANDLERS
from tocsin.api.events import post_events
from tocsin.api.incidents import act_on_incident, get_incident, list_incidents
from tocsin.api.security import PUBLIC_PATHS, BearerAuth
from tocsin.api.stream import stream
from tocsin.api.system import healthz, metrics
from tocsin.auth.tokens import TokenCache
from tocsin.bus.memory import MemoryBus
from tocsin.config import Settings
from tocsin.engine.engine import Engine
from tocsin.engine.state import Change, EngineState, OutboxItem
from tocsin.metrics import Metrics
from tocsin.notify.outbox import OutboxDeliverer
from tocsin.store.sqlite import Database, open_database

__all__ = ("Runtime", "build_app")

log = logging.getLogger(__name__)


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
        self.state = EngineState(settings.webhook, publish=self._publish, deliver=self._deliver)
        self.engine = Engine(self.state, self.writer, self.metrics, clock)
        self.tokens = TokenCache(self.db)
        self.deliverer = OutboxDeliverer(
            self.db,
            self.writer,
            settings.webhook,
            observe=lambda hook, outcome, s: self.metrics.webhook.labels(hook, outcome).observe(s),
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

    def writer_alive(self) -> bool:
        thread = self.writer._thread
        return thread is not None and thread.is_alive()

    async def start(self) -> None:
        seeded = self.writer.run_blocking(
            lambda tx: self.state.bootstrap(tx.conn, now_us=self.clock.now_us())
        )
        if seeded:
            log.info("alarm-type dictionary seeded", extra={"types": seeded})
        self.writer.start()
        await self.deliverer.start()
        log.info("tocsin started", extra={"db": str(self.db.path), "webhooks": len(self.settings.webhook)})

    async def stop(self) -> None:
        await self.deliverer.stop()
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
        try:
            yield
        finally:
            await runtime.stop()

    auth = DefineMiddleware(BearerAuth, exclude=[f"^{p}$" for p in PUBLIC_PATHS])
    config = AppConfig(
        route_handlers=[
            post_events,
            list_incidents,
            get_incident,
            act_on_incident,
            list_alarm_types,
            create_alarm_type,
            stream,
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
    return Litestar.from_config(config)
