"""Delivery from the outbox: every queued notification is sent until it lands or dies.

Notifications are written to the ``outbox`` table in the same transaction as the change
they announce, so a crash between commit and delivery loses nothing: on start, every
``pending`` row is loaded and sent again (receivers must tolerate a repeat; each payload
carries the incident id and the change time). Fresh items arrive in memory straight from
the commit, so the common path costs no extra read.

Retries back off exponentially (1 s doubling, capped at 5 min, with jitter) within the
hook's ``max_attempts`` budget; then the row is marked ``dead`` with its last error.
Outcomes are written back in batches through the single writer, and each batch of
deliveries is audited as a disclosure (per hook: the outbox and incident ids).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence

import msgspec
from sqlalchemy import Connection, select

from tocsin._internal.clock import now_us
from tocsin.audit.log import AuditRecord, id_ranges
from tocsin.config import WebhookConfig
from tocsin.engine.state import OutboxItem
from tocsin.errors import DeliveryError, StoreError
from tocsin.notify.channels.webhook import WebhookClient, new_client, send_webhook
from tocsin.store import repo
from tocsin.store.schema import outbox
from tocsin.store.sqlite import Database
from tocsin.store.writer import Tx, Writer, deferred_only

__all__ = ("OutboxDeliverer", "backoff_s")

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 64
"""Deliveries in flight at once, across all hooks."""


class _OutcomeSink:
    """Writes the delivery outcomes of every flush in a group commit with one statement."""

    def flush(self, conn: Connection, items: list[list[dict[str, object]]]) -> None:
        repo.record_outcomes(conn, [row for rows in items for row in rows])


_OUTCOME_SINK = _OutcomeSink()


def backoff_s(attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: 1, 2, 4 … seconds, capped at 300, ±20 % jitter."""
    return float(min(300.0, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2))


class OutboxDeliverer:
    """Sends outbox items through their channels and records what happened.

    ``audit`` appends disclosure records inside the outcome-recording writer job, and
    like ``Runtime.audit_append`` it must write only through ``Tx.defer``: that job is
    ``deferred_only``.
    """

    def __init__(
        self,
        db: Database,
        writer: Writer,
        hooks: Sequence[WebhookConfig],
        *,
        client: WebhookClient | None = None,
        observe: Callable[[str, str, float], None] | None = None,
        audit: Callable[[Tx, list[AuditRecord], int], None] | None = None,
    ) -> None:
        self._db = db
        self._writer = writer
        self._hooks = {h.label: h for h in hooks}
        self._client = client
        self._owns_client = client is None
        self._observe = observe or (lambda _hook, _outcome, _seconds: None)
        self._audit = audit
        self._queue: asyncio.Queue[OutboxItem] = asyncio.Queue()
        self._done: list[dict[str, object]] = []
        self._disclosed: dict[str, list[tuple[int, int]]] = {}
        self._flush_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._retry_handles: set[asyncio.TimerHandle] = set()

    @property
    def in_flight(self) -> int:
        return self._queue.qsize() + len(self._retry_handles)

    async def start(self) -> None:
        if self._client is None:
            self._client = new_client(MAX_CONCURRENCY)
        pending = await self._db.read(self._load_pending)
        for item, due_us in pending:
            self._schedule(item, max(0.0, (due_us - now_us()) / 1e6))
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(MAX_CONCURRENCY)]
        self._tasks.append(asyncio.create_task(self._flusher()))
        if pending:
            log.info("outbox resumed", extra={"pending": len(pending)})

    async def stop(self) -> None:
        for handle in self._retry_handles:
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush()
        if self._owns_client and self._client is not None:
            await self._client.close()

    def enqueue(self, items: Sequence[OutboxItem]) -> None:
        """Hand over freshly committed items (loop thread)."""
        for item in items:
            self._queue.put_nowait(item)

    def _load_pending(self, conn: Connection) -> list[tuple[OutboxItem, int]]:
        cols = (outbox.c.id, outbox.c.channel, outbox.c.payload, outbox.c.attempts, outbox.c.next_attempt_us)
        rows = conn.execute(select(*cols).where(outbox.c.state == "pending").order_by(outbox.c.id))
        out = []
        for r in rows:
            incident = msgspec.json.decode(r.payload).get("incident", {})
            item = OutboxItem(r.id, r.channel, r.payload.encode(), r.attempts, int(incident.get("id", 0)))
            out.append((item, r.next_attempt_us))
        return out

    def _schedule(self, item: OutboxItem, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retry_handles.discard(handle)
            self._queue.put_nowait(item)

        handle = loop.call_later(delay, fire)
        self._retry_handles.add(handle)

    async def _worker(self) -> None:
        while True:
            item = await self._queue.get()
            hook = self._hooks.get(item.channel)
            if hook is None:
                self._record(item.id, item.attempts, "dead", "no webhook with this name is configured any more")
                continue
            started = time.perf_counter()
            try:
                assert self._client is not None
                await send_webhook(self._client, hook, item.payload)
            except DeliveryError as exc:
                attempts = item.attempts + 1
                self._observe(hook.display, exc.reason, time.perf_counter() - started)
                if exc.retryable and attempts < hook.max_attempts:
                    delay = backoff_s(attempts)
                    retry = msgspec.structs.replace(item, attempts=attempts)
                    self._record(item.id, attempts, "pending", exc.detail, next_us=now_us() + int(delay * 1e6))
                    self._schedule(retry, delay)
                else:
                    log.warning(
                        "webhook delivery dead",
                        extra={
                            "hook": hook.display,
                            "outbox_id": item.id,
                            "error": exc.detail,
                            "attempts": attempts,
                        },
                    )
                    self._record(item.id, attempts, "dead", exc.detail)
            else:
                self._observe(hook.display, "delivered", time.perf_counter() - started)
                self._disclosed.setdefault(hook.display, []).append((item.id, item.incident_id))
                self._record(item.id, item.attempts + 1, "delivered", None)

    def _record(
        self, outbox_id: int, attempts: int, state: str, error: str | None, *, next_us: int | None = None
    ) -> None:
        at = now_us()
        self._done.append(
            {
                "b_id": outbox_id,
                "b_state": state,
                "b_attempts": attempts,
                "b_error": error,
                "b_next": next_us if next_us is not None else at,
                "b_delivered": at if state == "delivered" else None,
            }
        )
        self._flush_event.set()

    async def _flusher(self) -> None:
        while True:
            await self._flush_event.wait()
            self._flush_event.clear()
            await self._flush()

    async def _flush(self) -> None:
        if not self._done:
            return
        done, self._done = self._done, []
        disclosed, self._disclosed = self._disclosed, {}

        @deferred_only  # joins the group's ingest rows instead of splitting their statements
        def job(tx: Tx) -> None:
            tx.defer(_OUTCOME_SINK, done)
            if self._audit is not None and disclosed:
                records = [
                    AuditRecord(
                        "disclosure",
                        "webhook.deliver",
                        "system",
                        "system",
                        recipient=channel,
                        objects={
                            "outbox": id_ranges([o for o, _ in pairs]),
                            "incidents": id_ranges([i for _, i in pairs]),
                        },
                    )
                    for channel, pairs in disclosed.items()
                ]
                self._audit(tx, records, now_us())

        try:
            await self._writer.submit(job, weight=1)
        except StoreError:
            # Not written: the rows stay 'pending' and are sent again after a restart,
            # which receivers tolerate. Keep the outcomes for the next flush.
            log.warning("could not record webhook outcomes; will retry", extra={"count": len(done)})
            self._done[:0] = done
            for channel, pairs in disclosed.items():
                self._disclosed.setdefault(channel, [])[:0] = pairs
            await asyncio.sleep(1)
            self._flush_event.set()
