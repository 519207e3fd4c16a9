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
  ``Tx.defer``: the sink receives the items of every job that succeeded, in order, once
  per group, inside the same transaction just before COMMIT. One statement serves the
  whole group, and a rolled-back job's items are never written.
- The queue is bounded by *weight* (events pending); past it ``submit`` raises
  ``StoreUnavailable`` at once instead of queueing without limit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from tocsin.errors import StoreError, StoreUnavailable

__all__ = ("CommitStats", "GroupSink", "Tx", "Writer")

T = TypeVar("T")
log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]
AfterRollback = Callable[[Connection], None]


class GroupSink(Protocol):
    """Receives the deferred items of a whole group, once, before COMMIT (writer thread)."""

    def flush(self, conn: Connection, items: list[Any]) -> None: ...


class Tx:
    """What a job may ask of the transaction it runs in."""

    __slots__ = ("_after_commit", "_after_rollback", "_deferred", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
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
        max_pending: int = 200_000,
        max_group_weight: int = 5_000,
    ) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job[Any] | object] = queue.SimpleQueue()
        self._max_pending = max_pending
        self._max_group = max_group_weight
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.stats = CommitStats()

    @property
    def pending(self) -> int:
        """Weight of the jobs queued or running."""
        return self._pending

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tocsin-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish queued jobs, then stop the thread (blocking)."""
        if self._thread is not None:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

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

    def _run(self) -> None:
        with self._engine.connect() as conn:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                assert isinstance(first, _Job)
                group: list[_Job[Any]] = [first]
                weight = first.weight
                stop_after = False
                while weight < self._max_group:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop_after = True
                        break
                    assert isinstance(nxt, _Job)
                    group.append(nxt)
                    weight += nxt.weight
                self._commit_group(conn, group, weight)
                if stop_after:
                    return

    def _commit_group(self, conn: Connection, group: list[_Job[Any]], weight: int) -> None:
        started = time.perf_counter()
        outcomes: list[tuple[_Job[Any], bool, Any, Tx]] = []
        rollbacks: list[AfterRollback] = []
        try:
            with conn.begin():
                for job in group:
                    tx = Tx(conn)
                    # Plain SAVEPOINT statements: the same isolation as begin_nested(), at a
                    # fraction of its bookkeeping cost on the hottest path we have.
                    conn.exec_driver_sql("SAVEPOINT tocsin_job")
                    try:
                        result = job.fn(tx)
                    except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
                        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT tocsin_job")
                        conn.exec_driver_sql("RELEASE SAVEPOINT tocsin_job")
                        rollbacks.extend(tx._after_rollback)
                        outcomes.append((job, False, exc, tx))
                    else:
                        conn.exec_driver_sql("RELEASE SAVEPOINT tocsin_job")
                        outcomes.append((job, True, result, tx))
                _flush_deferred(conn, [tx for _j, ok, _r, tx in outcomes if ok])
        except Exception as exc:
            log.exception("group commit failed", extra={"jobs": len(group), "weight": weight})
            error = StoreError(f"commit failed: {exc}")
            error.__cause__ = exc
            for _job, _ok, _res, tx in outcomes:
                rollbacks.extend(tx._after_rollback)
            outcomes = [(job, False, error, Tx(conn)) for job in group]
        if rollbacks:
            self._repair(conn, rollbacks)
        with self._pending_lock:
            self._pending -= weight
        self.stats.commits += 1
        self.stats.jobs += len(group)
        self.stats.last_batch = weight
        if self.stats.observer is not None:
            self.stats.observer(len(group), weight, time.perf_counter() - started)
        for job, ok, value, tx in outcomes:
            job.loop.call_soon_threadsafe(_settle, job.future, ok, value, tx._after_commit if ok else ())

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


def _flush_deferred(conn: Connection, txs: list[Tx]) -> None:
    by_sink: dict[int, tuple[GroupSink, list[Any]]] = {}
    for tx in txs:
        for sink, item in tx._deferred:
            by_sink.setdefault(id(sink), (sink, []))[1].append(item)
    for sink, items in by_sink.values():
        sink.flush(conn, items)


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
