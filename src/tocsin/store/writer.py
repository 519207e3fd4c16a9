"""The single writer: one thread owns the write connection and commits work in groups.

SQLite allows one writer at a time, and an fsync per request would cap ingest at a few
hundred requests a second. So every write is a *job* (a function of the connection)
queued here; the writer thread takes whatever jobs are waiting, runs each inside its
own SAVEPOINT of one transaction, commits once, and only then resolves the callers'
futures. Durability is paid once per group, not once per request.

Contract:
- ``submit`` is called from the event loop; jobs run on the writer thread, strictly in
  submission order, never concurrently. A job must not block on the event loop.
- A job that raises is rolled back to its savepoint alone; the others in the group
  still commit. If the COMMIT itself fails, every job of the group fails.
- Side effects that must only happen once data is durable (publishing, delivery) are
  registered with ``Tx.after_commit``; in-memory state that a rollback would leave
  stale is repaired by ``Tx.after_rollback`` hooks, which run on the writer thread.
- Writes that many jobs make alike (audit records) may be handed to a ``GroupSink`` with
  ``Tx.defer``: the sink receives the items of every job that succeeded, in order,
  inside the same transaction before COMMIT: once per group, or once more where a
  direct-writing job follows deferred-only ones (below). One statement serves many
  jobs, and a rolled-back job's items are never written.
- A job marked with ``deferred_only`` promises to write *only* through ``Tx.defer``
  (reads are fine). It runs without a SAVEPOINT: if it raises, dropping its deferred
  items is its rollback. Their items are written before the next job that is not so
  marked, so every job still sees the writes of the jobs before it, in order. Jobs of
  one group share ``Tx.group``, a scratch dict for what such jobs must tell each other
  about rows still pending (ingest: the external ids claimed so far).
- The queue is bounded by *weight* (events pending); past it ``submit`` raises
  ``StoreUnavailable`` at once instead of queueing without limit. Urgent jobs (below) have
  a reserve past the bound (``URGENT_RESERVE_DIVISOR``).
- An *urgent* job (``submit(urgent=True)``) is for a caller that holds its sender waiting:
  an alarm panel that sends nothing more until it has its ACK, an operator at the console.
  Urgent jobs run in submission order among themselves, in a group of their own, ahead of
  bulk jobs queued earlier, so that they do not wait for the commit of a large ingest
  group too. Fairness: while bulk jobs wait, a bulk group (which takes the urgent jobs
  waiting when it forms, if it has room) runs between two urgent-only groups, so neither
  lane can starve the other. An urgent job still waits for the group in progress, so
  while urgent jobs flow, bulk groups are kept small (``BULK_GROUP_WHILE_URGENT``).
  Across the lanes, order is not kept: callers that need one job to see another's writes
  submit it after awaiting the first. Urgent is also for work that must not wait behind a
  flood although no sender waits on it (alarms already ACKed from the SIA journal): such
  a job is submitted with ``overlap=True`` (below).

Pipelining: given a ``reader`` (a connection of its own on the same database), the writer
overlaps a group's COMMIT with the next group's jobs. A COMMIT is mostly waiting (WAL
writes and fsync, with the GIL released): done inline it left the writer idle for a
third of each group. So a group made only of deferred-only jobs runs its jobs on the
writer thread, reading through the reader, while a commit stage (``tocsin.store.pipeline``)
waits on the previous group's COMMIT; then the writer thread writes the group's items and
hands its COMMIT to the stage. The jobs and the rows stay on one thread: a stage that also
wrote the rows only fought the writer thread for the GIL (measured: no gain). An urgent
group commits on the writer thread, as before: for stop-and-wait senders the two thread
hand-offs cost more than the overlap gains (unless none of its jobs has a sender waiting:
``submit(overlap=True)``). What this changes for jobs:
- a staged job reads through the reader, which sees committed data only; the writes of
  the group still committing are visible through ``Tx.earlier`` (its ``Tx.group``
  scratch) instead;
- a group with any other job waits for the stage to finish and runs as described above;
- if a COMMIT fails, the group staged meanwhile fails too (its jobs ran on in-memory
  state that included the failed one), and the rollback hooks of both run once the stage
  is idle, before anything else runs.

On SQLite, WAL checkpoints (copying the log into the database file, with an fsync) are
made every ``CHECKPOINT_INTERVAL_S`` by a thread of their own on a connection of their
own, so the COMMIT that crosses SQLite's automatic threshold rarely has any left to do:
done there, a checkpoint stalled every request queued behind that group.

The writer thread and the event loop share one GIL, and every SQLite call releases it:
each time the writer takes it back it may wait for the loop to give it up. That is why
deferred writes go out as a few multi-row statements per group, and why ``start`` lowers
the interpreter's switch interval (``SWITCH_INTERVAL_S``), which bounds that wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from tocsin._internal.priority import lower_this_thread
from tocsin.errors import StoreError, StoreUnavailable
from tocsin.store.bulk import driver_cursor
from tocsin.store.jobs import (
    AfterRollback,
    GroupSink,
    Job,
    Outcome,
    Tx,
    commit_error,
    deferred_only,
    failed,
    flush_deferred,
    rollback_hooks,
)
from tocsin.store.pipeline import Pipeline

__all__ = (
    "BULK_GROUP_WHILE_URGENT",
    "CHECKPOINT_INTERVAL_S",
    "SWITCH_INTERVAL_S",
    "URGENT_RECENT_S",
    "URGENT_RESERVE_DIVISOR",
    "CommitStats",
    "GroupSink",
    "Tx",
    "Writer",
    "deferred_only",
)

T = TypeVar("T")
log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval while a writer runs (Python's default is 5 ms).

A thread waiting for the GIL asks for it after this long. With the default, a busy event
loop could keep the writer waiting up to 5 ms after each SQLite call: at 1,000 single-event
requests a second a group commit of twenty jobs took ~20 ms, about half of it waiting."""

URGENT_RESERVE_DIVISOR = 10
"""Urgent jobs may take the queue past its bound by this fraction of it (a tenth): a flood
of bulk ingest that fills the queue gets 503s, while panels and operators still get in."""

BULK_GROUP_WHILE_URGENT = 200
"""Most bulk weight in a group while urgent jobs are flowing (one ran in the last
``URGENT_RECENT_S``): an urgent job waits for the bulk group in progress, so its size
bounds that wait. Measured with ``bench/sia.py`` (panels at 2,000 frames/s, an HTTP flood
in batches of 100), two runs each, cap 200 against none: ACK p50 20-22 -> 12-14 ms, p99
34-44 -> 27 ms, for 6-16 % fewer HTTP events/s while the panels send (22.9k and 20.5k
against 24.4k-26.5k)."""
URGENT_RECENT_S = 0.1
"""How long after an urgent group bulk groups stay small."""

CHECKPOINT_INTERVAL_S = 0.25
"""How often the checkpoint thread copies the WAL into the database file (SQLite only)."""


class CommitStats:
    """Counters the metrics endpoint reads; written by one thread at a time: the commit
    stage's, or the writer's, which drains the stage before it finishes a group itself."""

    __slots__ = ("commits", "jobs", "last_batch", "observer")

    def __init__(self) -> None:
        self.commits = 0
        self.jobs = 0
        self.last_batch = 0
        self.observer: Callable[[int, int, float], None] | None = None


_STOP = object()
_WAKE = object()
"""Put on the main queue with each urgent job, so a writer blocked on it wakes."""


class Writer:
    """Owns the write connection; see the module docstring for the contract."""

    def __init__(
        self,
        engine: Engine,
        *,
        reader: Engine | None = None,
        max_pending: int = 200_000,
        max_group_weight: int = 5_000,
    ) -> None:
        self._engine = engine
        self._reader = reader
        """Where staged jobs read (pipelining, see the module docstring); None: no pipelining."""
        self._queue: queue.SimpleQueue[Job[Any] | object] = queue.SimpleQueue()
        self._urgent: queue.SimpleQueue[Job[Any]] = queue.SimpleQueue()
        """Urgent jobs; each also puts ``_WAKE`` on ``_queue``, which the thread blocks on."""
        self._max_pending = max_pending
        self._max_group = max_group_weight
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._switch_interval = sys.getswitchinterval()
        self._checkpoints: threading.Thread | None = None
        self._stopping = threading.Event()
        self.stats = CommitStats()

    @property
    def pending(self) -> int:
        """Weight of the jobs queued or running."""
        return self._pending

    def start(self) -> None:
        """Start the writer thread; lowers the process's switch interval to ``SWITCH_INTERVAL_S``."""
        if self._thread is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
            if self._engine.dialect.name == "sqlite" and self._engine.url.database not in (None, "", ":memory:"):
                with self._engine.connect() as probe:  # before the writer thread holds the connection
                    level = int(probe.exec_driver_sql("PRAGMA synchronous").scalar_one())
                self._checkpoints = threading.Thread(
                    target=self._checkpoint, args=(level,), name="tocsin-checkpoint", daemon=True
                )
                self._checkpoints.start()
            self._thread = threading.Thread(target=self._run, name="tocsin-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish queued jobs, then stop the thread (blocking) and restore the switch interval."""
        if self._thread is not None:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._stopping.set()
            if self._checkpoints is not None:
                self._checkpoints.join()
                self._checkpoints = None
            self._stopping.clear()
            sys.setswitchinterval(self._switch_interval)

    async def submit(self, fn: Callable[[Tx], T], *, weight: int = 1, urgent: bool = False, overlap: bool = False) -> T:
        """Queue ``fn`` and wait until it has been committed; return its result.

        ``urgent``: commit ahead of queued bulk work (see the module docstring).
        ``overlap`` (with ``urgent``): no sender waits on this COMMIT (alarms a receiver has
        already ACKed from its journal), so an urgent group made only of such jobs has its
        COMMIT overlap the next group's jobs, as a bulk group does, instead of committing on
        the writer thread (``bench/sia.py``, journaled panels: about 10 % more frames/s).

        Raises:
            StoreUnavailable: the queue is over its bound or the writer is stopping.
            Exception: whatever ``fn`` raised (its writes were rolled back).
        """
        if self._closed or self._thread is None:
            raise StoreUnavailable("the store is not accepting writes (shutting down)")
        bound = self._max_pending + (self._max_pending // URGENT_RESERVE_DIVISOR if urgent else 0)
        with self._pending_lock:
            if self._pending and self._pending + weight > bound:
                raise StoreUnavailable(
                    f"writer queue is full ({self._pending} events pending, bound {bound})",
                    retry_after=1,
                )
            self._pending += weight
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = Job(fn, future, loop, weight, overlap=overlap)
        if urgent:
            self._urgent.put(job)
            self._queue.put(_WAKE)
        else:
            self._queue.put(job)
        return await future

    def run_blocking(self, fn: Callable[[Tx], T]) -> T:
        """Run one job synchronously, for start-up and CLI use before ``start``."""
        if self._thread is not None:
            raise StoreError("run_blocking is only for use before the writer thread starts")
        with self._engine.connect() as conn, conn.begin():
            tx = Tx(conn)
            result = fn(tx)
            flush_deferred(conn, [tx])
        for callback in tx._after_commit:
            callback()
        return result

    # -- writer thread ---------------------------------------------------------------

    def _checkpoint(self, level: int) -> None:
        """Checkpoint thread: PASSIVE checkpoints (never waiting for the writer or readers)
        on a connection of its own, with the writer's ``synchronous`` level, since the
        checkpoint's fsync is what makes the copied pages durable before the log restarts."""
        path = self._engine.url.database
        assert path is not None
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA synchronous={level}")
            while not self._stopping.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or I/O: the writer's automatic one still runs
                    log.warning("background checkpoint failed", extra={"error": str(exc)})
        finally:
            conn.close()

    def _run(self) -> None:
        lower_this_thread()  # batch work: the event loops that answer go first (tocsin._internal.priority)
        with self._engine.connect() as conn, contextlib.ExitStack() as resources:
            pipe = None
            if self._reader is not None:
                reader = resources.enter_context(self._reader.connect())
                pipe = Pipeline(conn, reader, finish=self._finish, repair=self._repair)
                resources.callback(pipe.stop)
            bulk: collections.deque[Job[Any]] = collections.deque()
            stopping = False
            urgent_turn = True  # whether urgent jobs may have a group of their own next
            urgent_at = -math.inf  # when the last urgent group ran (monotonic seconds)
            while True:
                if not bulk and self._urgent.empty():
                    if stopping:
                        return
                    stopping = self._take(self._queue.get(), bulk)
                while True:  # everything queued so far, without blocking
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    stopping = self._take(item, bulk) or stopping
                urgent_only = not self._urgent.empty() and (urgent_turn or not bulk)
                if urgent_only:
                    group, weight = self._add_urgent([], 0)
                    urgent_turn = False
                    urgent_at = time.monotonic()
                else:
                    busy = time.monotonic() - urgent_at < URGENT_RECENT_S
                    group, weight = self._bulk_group(
                        bulk, min(BULK_GROUP_WHILE_URGENT, self._max_group) if busy else self._max_group
                    )
                    urgent_turn = True
                if not group:
                    continue
                if pipe is not None and all(getattr(job.fn, "deferred_only", False) for job in group):
                    pipe.stage(group, weight, inline=urgent_only and not all(job.overlap for job in group))
                else:
                    if pipe is not None:
                        pipe.drain()
                    self._commit_group(conn, group, weight)

    @staticmethod
    def _take(item: Job[Any] | object, bulk: collections.deque[Job[Any]]) -> bool:
        """File one item of the main queue; True for the stop mark."""
        if isinstance(item, Job):
            bulk.append(item)
        return item is _STOP

    def _add_urgent(self, group: list[Job[Any]], weight: int) -> tuple[list[Job[Any]], int]:
        """Add waiting urgent jobs to ``group`` (of ``weight`` so far) up to the group bound."""
        while weight < self._max_group:
            try:
                job = self._urgent.get_nowait()
            except queue.Empty:
                break
            group.append(job)
            weight += job.weight
        return group, weight

    def _bulk_group(self, bulk: collections.deque[Job[Any]], most: int) -> tuple[list[Job[Any]], int]:
        """Bulk jobs in order up to ``most``, then the urgent jobs waiting now, while the group has room."""
        group: list[Job[Any]] = []
        weight = 0
        while bulk and weight < most:
            job = bulk.popleft()
            group.append(job)
            weight += job.weight
        return self._add_urgent(group, weight)

    def _commit_group(self, conn: Connection, group: list[Job[Any]], weight: int) -> None:
        started = time.perf_counter()
        outcomes: list[Outcome] = []
        rollbacks: list[AfterRollback] = []
        try:
            with conn.begin():
                # Plain SAVEPOINT statements on the driver's cursor: the same isolation as
                # begin_nested(), at a fraction of its cost on the hottest path we have.
                cursor = driver_cursor(conn)
                group_scratch: dict[str, Any] = {}
                unflushed: list[Tx] = []  # successful jobs whose deferred items are not written yet
                owed = False  # whether any of them is deferred-only (its rows are not in the database)
                for job in group:
                    tx = Tx(conn, group_scratch)
                    deferred = getattr(job.fn, "deferred_only", False)  # dropping its items undoes it
                    if not deferred:
                        if owed:  # this job may read or write those rows: write them first, in order
                            flush_deferred(conn, unflushed)
                            unflushed, owed = [], False
                        cursor.execute("SAVEPOINT tocsin_job")
                    try:
                        result = job.fn(tx)
                    except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
                        if not deferred:
                            cursor.execute("ROLLBACK TO SAVEPOINT tocsin_job")
                            cursor.execute("RELEASE SAVEPOINT tocsin_job")
                        rollbacks.extend(tx._after_rollback)
                        outcomes.append((job, False, exc, tx))
                    else:
                        if not deferred:
                            cursor.execute("RELEASE SAVEPOINT tocsin_job")
                        unflushed.append(tx)
                        owed = owed or deferred
                        outcomes.append((job, True, result, tx))
                flush_deferred(conn, unflushed)
        except Exception as exc:  # noqa: BLE001 - the group's callers get it
            error = commit_error("group commit failed", group, weight, exc)
            rollbacks.extend(rollback_hooks(outcomes, failed_only=False))
            outcomes = failed(group, error, conn)
        if rollbacks:
            self._repair(conn, rollbacks)
        self._finish(group, weight, outcomes, started)

    def _finish(self, group: list[Job[Any]], weight: int, outcomes: list[Outcome], started: float) -> None:
        """Count a group done and settle its callers' futures (writer or commit-stage thread)."""
        with self._pending_lock:
            self._pending -= weight
        self.stats.commits += 1
        self.stats.jobs += len(group)
        self.stats.last_batch = weight
        if self.stats.observer is not None:
            self.stats.observer(len(group), weight, time.perf_counter() - started)
        # One wake-up of each event loop per group, not one per job: settling in the loop
        # keeps the jobs' order, and a thousand self-pipe writes a second cost real CPU.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any, Any]]] = {}
        for job, ok, value, tx in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, ok, value, tx._after_commit if ok else ()))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    @staticmethod
    def _repair(conn: Connection, rollbacks: list[AfterRollback]) -> None:
        """Run rollback hooks, each owner once, each in a transaction of its own."""
        seen: list[AfterRollback] = []
        for callback in rollbacks:
            if callback in seen:  # bound methods compare equal: repair once per owner
                continue
            seen.append(callback)
            try:
                with conn.begin():
                    callback(conn)
            except Exception:
                log.exception("rollback repair failed")


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any, Any]]) -> None:
    for future, ok, value, after_commit in settled:
        _settle(future, ok, value, after_commit)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any, after_commit: Any) -> None:
    for callback in after_commit:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
