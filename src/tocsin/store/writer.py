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
  ``StoreUnavailable`` at once instead of queueing without limit.

Pipelining (when the writer has a ``lookups`` engine; SQLite does): the first thread runs
deferred-only jobs, whose work is Python (classifying, correlating, building rows), while
a second, the commit stage, writes the previous group's rows and commits them, which is
mostly SQLite's C code with the GIL released. A run of deferred-only jobs becomes a group
once nothing more is queued and the stage can take it (or at the group weight); while the
stage is busy the open group keeps growing, as the serial writer's would. At most two
groups are ahead of what is durable. Such jobs read through their own connection
(``lookups``), which sees only committed rows, so rows written but not committed yet are
passed on in memory: ``Tx.earlier`` holds the ``Tx.group`` scratch of each of those
groups. Any other job waits until the stage is idle and runs as the serial writer would.
A failed COMMIT fails its group and every group handed after it (they ran on its
in-memory state); rollback hooks run once the stage is idle, before the next job.

On SQLite, WAL checkpoints (copying the log into the database file, with an fsync) are
made every ``CHECKPOINT_INTERVAL_S`` by a thread of their own on a connection of their
own, so the COMMIT that crosses SQLite's automatic threshold rarely has any left to do:
done there, a checkpoint stalled every request queued behind that group.

The writer threads and the event loop share one GIL, and every SQLite call releases it:
each time the writer takes it back it may wait for the loop to give it up. That is why
deferred writes go out as a few multi-row statements per group, and why ``start`` lowers
the interpreter's switch interval (``SWITCH_INTERVAL_S``), which bounds that wait.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tocsin.errors import StoreError, StoreUnavailable

__all__ = ("CHECKPOINT_INTERVAL_S", "SWITCH_INTERVAL_S", "CommitStats", "GroupSink", "Tx", "Writer", "deferred_only")

T = TypeVar("T")
log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]
AfterRollback = Callable[[Connection], None]

SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval while a writer runs (Python's default is 5 ms).

A thread waiting for the GIL asks for it after this long. With the default, a busy event
loop could keep the writer waiting up to 5 ms after each SQLite call: at 1,000 single-event
requests a second a group commit of twenty jobs took ~20 ms, about half of it waiting."""

_POLL_S = 0.0005
"""How often the run stage looks again whether the commit stage is free, while it has a
group open and nothing new has arrived."""

CHECKPOINT_INTERVAL_S = 0.25
"""How often the checkpoint thread copies the WAL into the database file (SQLite only)."""

F = TypeVar("F", bound=Callable[..., Any])


def deferred_only(fn: F) -> F:
    """Mark a job as writing only through ``Tx.defer`` (see the module docstring)."""
    fn.deferred_only = True  # type: ignore[attr-defined]
    return fn


class GroupSink(Protocol):
    """Receives the deferred items of a whole group, once, before COMMIT (writer thread)."""

    def flush(self, conn: Connection, items: list[Any]) -> None: ...


class Tx:
    """What a job may ask of the transaction it runs in."""

    __slots__ = ("_after_commit", "_after_rollback", "_deferred", "conn", "earlier", "group")

    def __init__(
        self, conn: Connection, group: dict[str, Any] | None = None, earlier: tuple[dict[str, Any], ...] = ()
    ) -> None:
        self.conn = conn
        self.group: dict[str, Any] = {} if group is None else group
        """Scratch shared by the jobs of one group commit (see the module docstring)."""
        self.earlier = earlier
        """The scratch of each earlier group whose rows are written but not yet committed
        (pipelined deferred-only jobs only; see the module docstring)."""
        self._after_commit: list[AfterCommit] = []
        self._after_rollback: list[AfterRollback] = []
        self._deferred: list[tuple[GroupSink, Any]] = []

    def defer(self, sink: GroupSink, item: Any) -> None:
        """Hand ``item`` to ``sink``, written with the group's other items before COMMIT."""
        self._deferred.append((sink, item))

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` on the event loop once this job's writes are durable."""
        self._after_commit.append(callback)

    def after_rollback(self, callback: AfterRollback) -> None:
        """Run ``callback(conn)`` on the writer thread if this job's writes are undone."""
        self._after_rollback.append(callback)


class _Job(Generic[T]):
    __slots__ = ("fn", "future", "loop", "weight")

    def __init__(
        self, fn: Callable[[Tx], T], future: asyncio.Future[T], loop: asyncio.AbstractEventLoop, weight: int
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.weight = weight


class CommitStats:
    """Counters the metrics endpoint reads; written only by the writer thread."""

    __slots__ = ("commits", "jobs", "last_batch", "observer")

    def __init__(self) -> None:
        self.commits = 0
        self.jobs = 0
        self.last_batch = 0
        self.observer: Callable[[int, int, float], None] | None = None


_STOP = object()


class Writer:
    """Owns the write connection; see the module docstring for the contract."""

    def __init__(
        self,
        engine: Engine,
        *,
        lookups: Engine | None = None,
        max_pending: int = 200_000,
        max_group_weight: int = 5_000,
    ) -> None:
        self._engine = engine
        self._lookups = lookups
        self._queue: queue.SimpleQueue[_Job[Any] | object] = queue.SimpleQueue()
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

    async def submit(self, fn: Callable[[Tx], T], *, weight: int = 1) -> T:
        """Queue ``fn`` and wait until it has been committed; return its result.

        Raises:
            StoreUnavailable: the queue is over its bound or the writer is stopping.
            Exception: whatever ``fn`` raised (its writes were rolled back).
        """
        if self._closed or self._thread is None:
            raise StoreUnavailable("the store is not accepting writes (shutting down)")
        with self._pending_lock:
            if self._pending and self._pending + weight > self._max_pending:
                raise StoreUnavailable(
                    f"writer queue is full ({self._pending} events pending, bound {self._max_pending})",
                    retry_after=1,
                )
            self._pending += weight
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, future, loop, weight))
        return await future

    def run_blocking(self, fn: Callable[[Tx], T]) -> T:
        """Run one job synchronously, for start-up and CLI use before ``start``."""
        if self._thread is not None:
            raise StoreError("run_blocking is only for use before the writer thread starts")
        with self._engine.connect() as conn, conn.begin():
            tx = Tx(conn)
            result = fn(tx)
            _flush_deferred(conn, [tx])
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
        if self._lookups is None:
            with self._engine.connect() as conn:
                carry: _Job[Any] | object | None = None
                while carry is not _STOP:
                    first = self._queue.get() if carry is None else carry
                    if first is _STOP:
                        return
                    assert isinstance(first, _Job)
                    group, weight, carry = self._collect(first)
                    self._commit_group(conn, group, weight)
            return
        stage = _CommitStage(self)
        with self._engine.connect() as conn, self._lookups.connect() as lookup:
            stage.start(conn)
            try:
                self._feed(conn, lookup, stage)
            finally:
                stage.stop()

    def _collect(self, first: _Job[Any]) -> tuple[list[_Job[Any]], int, _Job[Any] | object | None]:
        """``first`` and the jobs queued behind it, up to the group weight; and ``_STOP`` if met."""
        group: list[_Job[Any]] = [first]
        weight = first.weight
        while weight < self._max_group:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return group, weight, _STOP
            assert isinstance(nxt, _Job)
            group.append(nxt)
            weight += nxt.weight
        return group, weight, None

    def _feed(self, conn: Connection, lookup: Connection, stage: _CommitStage) -> None:
        """First stage of the pipelined writer: run deferred-only jobs into groups for the
        commit stage, and any other job in a group of its own once the stage is idle."""
        building: _Group | None = None
        carry: _Job[Any] | object | None = None
        while True:
            if carry is not None:
                job, carry = carry, None
            else:
                job, building = self._next_job(conn, stage, building)
                if job is None:
                    continue
            if job is _STOP:
                if building is not None:
                    stage.hand(building)
                self._settle_stage(conn, stage)
                return
            assert isinstance(job, _Job)
            if not getattr(job.fn, "deferred_only", False):
                if building is not None:
                    stage.hand(building)
                    building = None
                self._settle_stage(conn, stage)  # it may read or change what those groups wrote
                group, weight, carry = self._collect(job)
                self._commit_group(conn, group, weight)
                continue
            if stage.broken is not None:  # a commit failed: in-memory state is stale, repair first
                if building is not None:
                    stage.hand(building)
                    building = None
                self._settle_stage(conn, stage)
            if building is None:
                building = _Group(stage.uncommitted())
            building.run(job, lookup)
            if building.weight >= self._max_group:
                self._hand(conn, stage, building)
                building = None

    def _next_job(
        self, conn: Connection, stage: _CommitStage, building: _Group | None
    ) -> tuple[_Job[Any] | object | None, _Group | None]:
        """The next queued job (None: look again) and the group still open after it.

        With nothing more queued, the open group goes to the stage if it can take it; if
        the stage is committing one group and holds the next, this one stays open, so it
        grows with the load instead of queueing up as many small commits.
        """
        if building is None:
            return self._queue.get(), None
        try:
            return self._queue.get_nowait(), building
        except queue.Empty:
            pass
        if stage.can_take():
            self._hand(conn, stage, building)
            return None, None
        try:
            return self._queue.get(timeout=_POLL_S), building
        except queue.Empty:
            return None, building

    def _hand(self, conn: Connection, stage: _CommitStage, group: _Group) -> None:
        """Give ``group`` to the commit stage; if a job of it failed, wait for the commit and
        repair in-memory state before any later job runs (as the serial writer does)."""
        stage.hand(group)
        if group.rollbacks:
            self._settle_stage(conn, stage)

    def _settle_stage(self, conn: Connection, stage: _CommitStage) -> None:
        """Wait until the commit stage is idle, then run the repairs its groups left."""
        stage.drain()
        repairs, stage.repairs = stage.repairs, []
        stage.broken = None
        if repairs:
            self._repair(conn, repairs)

    def _commit_group(self, conn: Connection, group: list[_Job[Any]], weight: int) -> None:
        started = time.perf_counter()
        outcomes: list[tuple[_Job[Any], bool, Any, Tx]] = []
        rollbacks: list[AfterRollback] = []
        try:
            with conn.begin():
                # Plain SAVEPOINT statements on the driver's cursor: the same isolation as
                # begin_nested(), at a fraction of its cost on the hottest path we have.
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                group_scratch: dict[str, Any] = {}
                unflushed: list[Tx] = []  # successful jobs whose deferred items are not written yet
                owed = False  # whether any of them is deferred-only (its rows are not in the database)
                for job in group:
                    tx = Tx(conn, group_scratch)
                    if getattr(job.fn, "deferred_only", False):
                        try:
                            result = job.fn(tx)
                        except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
                            rollbacks.extend(tx._after_rollback)
                            outcomes.append((job, False, exc, tx))
                        else:
                            unflushed.append(tx)
                            owed = True
                            outcomes.append((job, True, result, tx))
                        continue
                    if owed:  # this job may read or write those rows: write them first, in order
                        _flush_deferred(conn, unflushed)
                        unflushed, owed = [], False
                    cursor.execute("SAVEPOINT tocsin_job")
                    try:
                        result = job.fn(tx)
                    except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
                        cursor.execute("ROLLBACK TO SAVEPOINT tocsin_job")
                        cursor.execute("RELEASE SAVEPOINT tocsin_job")
                        rollbacks.extend(tx._after_rollback)
                        outcomes.append((job, False, exc, tx))
                    else:
                        cursor.execute("RELEASE SAVEPOINT tocsin_job")
                        unflushed.append(tx)
                        outcomes.append((job, True, result, tx))
                _flush_deferred(conn, unflushed)
        except Exception as exc:
            log.exception("group commit failed", extra={"jobs": len(group), "weight": weight})
            error = StoreError(f"commit failed: {exc}")
            error.__cause__ = exc
            for _job, _ok, _res, tx in outcomes:
                rollbacks.extend(tx._after_rollback)
            outcomes = [(job, False, error, Tx(conn)) for job in group]
        if rollbacks:
            self._repair(conn, rollbacks)
        self._finish(outcomes, weight, started)

    def _finish(self, outcomes: list[tuple[_Job[Any], bool, Any, Tx]], weight: int, started: float) -> None:
        """Account for a committed (or failed) group and settle its callers."""
        with self._pending_lock:
            self._pending -= weight
        self.stats.commits += 1
        self.stats.jobs += len(outcomes)
        self.stats.last_batch = weight
        if self.stats.observer is not None:
            self.stats.observer(len(outcomes), weight, time.perf_counter() - started)
        # One wake-up of each event loop per group, not one per job: settling in the loop
        # keeps the jobs' order, and a thousand self-pipe writes a second cost real CPU.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any, Any]]] = {}
        for job, ok, value, tx in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, ok, value, tx._after_commit if ok else ()))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    @staticmethod
    def _repair(conn: Connection, rollbacks: list[AfterRollback]) -> None:
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


class _Group:
    """Deferred-only jobs run by the first stage, on their way to the commit stage."""

    __slots__ = ("earlier", "outcomes", "rollbacks", "scratch", "started", "weight")

    def __init__(self, earlier: tuple[dict[str, Any], ...]) -> None:
        self.earlier = earlier
        self.scratch: dict[str, Any] = {}
        self.outcomes: list[tuple[_Job[Any], bool, Any, Tx]] = []
        self.rollbacks: list[AfterRollback] = []
        self.weight = 0
        self.started = time.perf_counter()

    def run(self, job: _Job[Any], lookup: Connection) -> None:
        tx = Tx(lookup, self.scratch, self.earlier)
        try:
            result = job.fn(tx)
        except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
            self.rollbacks.extend(tx._after_rollback)
            self.outcomes.append((job, False, exc, tx))
        else:
            self.outcomes.append((job, True, result, tx))
        finally:
            if lookup.in_transaction():  # never keep a read snapshot open across jobs
                lookup.rollback()
        self.weight += job.weight


class _CommitStage:
    """The pipelined writer's second thread: writes each group's rows and commits them.

    Holds at most one group waiting while it commits another (``hand`` blocks past that),
    so the first stage runs at most two groups ahead of what is durable. When a COMMIT
    fails, that group and every group handed after it (they were computed on its
    in-memory state) fail, and ``repairs`` collects their rollback hooks for the first
    stage to run once the stage is idle.
    """

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._slot: queue.Queue[_Group | object] = queue.Queue(maxsize=1)
        self._changed = threading.Condition()
        self._inflight: collections.deque[_Group] = collections.deque()
        self._thread: threading.Thread | None = None
        self.broken: StoreError | None = None
        self.repairs: list[AfterRollback] = []

    def start(self, conn: Connection) -> None:
        self._thread = threading.Thread(target=self._loop, args=(conn,), name="tocsin-commit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._slot.put(_STOP)
            self._thread.join()
            self._thread = None

    def hand(self, group: _Group) -> None:
        with self._changed:
            self._inflight.append(group)
        self._slot.put(group)

    def can_take(self) -> bool:
        """Whether ``hand`` would return at once (no group is waiting for the stage)."""
        return self._slot.empty()

    def uncommitted(self) -> tuple[dict[str, Any], ...]:
        """The scratch of every group handed over and not yet committed."""
        with self._changed:
            return tuple(g.scratch for g in self._inflight)

    def drain(self) -> None:
        with self._changed:
            while self._inflight:
                self._changed.wait()

    def _loop(self, conn: Connection) -> None:
        while True:
            group = self._slot.get()
            if group is _STOP:
                return
            assert isinstance(group, _Group)
            try:
                self._commit(conn, group)
            finally:
                with self._changed:
                    self._inflight.popleft()
                    self._changed.notify_all()

    def _commit(self, conn: Connection, group: _Group) -> None:
        outcomes = group.outcomes
        rollbacks = list(group.rollbacks)
        error = self.broken
        if error is None:
            try:
                with conn.begin():
                    _flush_deferred(conn, [tx for _job, ok, _value, tx in outcomes if ok])
            except Exception as exc:
                log.exception("group commit failed", extra={"jobs": len(outcomes), "weight": group.weight})
                error = self.broken = StoreError(f"commit failed: {exc}")
                error.__cause__ = exc
        if error is not None:
            for _job, ok, _value, tx in outcomes:
                if ok:
                    rollbacks.extend(tx._after_rollback)
            outcomes = [(job, False, error, Tx(conn)) for job, _ok, _value, _tx in outcomes]
        self.repairs.extend(rollbacks)
        self._writer._finish(outcomes, group.weight, group.started)


def _flush_deferred(conn: Connection, txs: list[Tx]) -> None:
    by_sink: dict[int, tuple[GroupSink, list[Any]]] = {}
    for tx in txs:
        for sink, item in tx._deferred:
            by_sink.setdefault(id(sink), (sink, []))[1].append(item)
    for sink, items in by_sink.values():
        sink.flush(conn, items)


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
