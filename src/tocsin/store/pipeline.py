"""Pipelined group commits: the next group's jobs run while the last group's COMMIT waits.

A COMMIT is mostly waiting (WAL writes and fsync, with the GIL released): done inline it
left the writer thread idle for a third of each group. ``Pipeline`` runs a group of
deferred-only jobs on the writer thread, reading through a reader connection of its own,
while a ``Stage`` thread waits on the previous group's COMMIT; then it writes the group's
rows and hands its COMMIT on. The contract this gives jobs is in ``tocsin.store.writer``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Connection, RootTransaction

from tocsin._internal.priority import lower_this_thread
from tocsin.errors import StoreError
from tocsin.store.jobs import AfterRollback, Job, Outcome, Tx, commit_error, failed, flush_deferred, rollback_hooks

__all__ = ("Pipeline", "Stage")

T = TypeVar("T")
log = logging.getLogger(__name__)

Finish = Callable[[list[Job[Any]], int, list[Outcome], float], None]
"""Count a group done and settle its callers (group, weight, outcomes, perf_counter at start)."""
Repair = Callable[[Connection, list[AfterRollback]], None]
"""Run rollback hooks on the write connection."""


class Stage(Generic[T]):
    """Runs ``handle(item)`` on a thread of its own for each item handed, in order."""

    def __init__(self, handle: Callable[[T], None], *, name: str) -> None:
        self._handle = handle
        self._cond = threading.Condition()
        self._waiting: collections.deque[T] = collections.deque()
        self._busy = 0
        """Items handed and not yet handled."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def idle(self) -> bool:
        """Whether every item handed so far has been handled."""
        return self._busy == 0

    def start(self) -> None:
        self._thread.start()

    def hand(self, item: T) -> None:
        """Queue ``item`` for the stage's thread."""
        with self._cond:
            self._waiting.append(item)
            self._busy += 1
            self._cond.notify_all()

    def drain(self) -> None:
        """Block until every item handed so far has been handled."""
        with self._cond:
            self._cond.wait_for(lambda: self._busy == 0)

    def stop(self) -> None:
        """Handle what was handed, then end the thread (blocking)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        lower_this_thread()  # as the writer's (tocsin._internal.priority)
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._stopping)
                if not self._waiting:
                    return
                item = self._waiting.popleft()
            try:
                self._handle(item)
            except Exception:  # the handler owns its errors; one escaping must not stop the pipeline
                log.exception("pipeline stage handler failed")
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


class _Written(NamedTuple):
    """A group whose rows are written, waiting for its COMMIT."""

    group: list[Job[Any]]
    weight: int
    outcomes: list[Outcome]
    started: float
    trans: RootTransaction


class Pipeline:
    """The writer thread's side of pipelined commits; the write connection is the stage's
    from a hand-off until ``drain`` returns."""

    def __init__(self, conn: Connection, reader: Connection, *, finish: Finish, repair: Repair) -> None:
        self._conn = conn
        self._reader = reader
        self._finish = finish
        self._repair = repair
        self._stage: Stage[_Written] = Stage(self._commit, name="tocsin-commit")
        self._committing: dict[str, Any] | None = None
        """The ``Tx.group`` scratch of the group last handed on, until known committed."""
        self._failure: StoreError | None = None
        """Set by whichever thread ran a COMMIT that failed; cleared by ``drain``."""
        self._owed: list[AfterRollback] = []
        """Rollback hooks of failed jobs and groups, run by ``drain`` on the writer thread."""
        self._stage.start()

    def stage(self, group: list[Job[Any]], weight: int, *, inline: bool = False) -> None:
        """Run the group's (deferred-only) jobs, write their rows, and hand on the COMMIT.

        ``inline``: COMMIT here instead, for a group whose callers hold their senders
        waiting (an urgent group): handing the COMMIT to the stage's thread, and the
        settling back, each wait for the GIL the writer thread holds, which costs such a
        group more than the overlap gains (``bench/sia.py``, panels waiting for the
        engine's commit: 12 % fewer frames/s). Urgent jobs whose senders do not wait
        (``Writer.submit(overlap=True)``) are staged like bulk ones.
        """
        if self._failure is not None:
            self.drain()
        started = time.perf_counter()
        if self._stage.idle:
            self._committing = None  # committed before the snapshot below begins: the reader sees it
        scratch: dict[str, Any] = {}
        outcomes, error = self._run_jobs(group, weight, scratch)
        self._stage.drain()  # the previous COMMIT is done: the connection is ours again
        error = error or self._failure
        trans = error if error is not None else self._write(group, weight, outcomes)
        if isinstance(trans, StoreError):
            self._owed.extend(rollback_hooks(outcomes, failed_only=False))
            self._finish(group, weight, failed(group, trans, self._conn), started)
            self.drain()
            return
        self._owed.extend(rollback_hooks(outcomes, failed_only=True))
        written = _Written(group, weight, outcomes, started, trans)
        if inline:
            self._commit(written)
        else:
            self._committing = scratch
            self._stage.hand(written)
        if self._owed:
            self.drain()  # the failed jobs' hooks run once the group is committed, before the next

    def drain(self) -> None:
        """Wait until the stage is idle, then run the rollback hooks owed."""
        self._stage.drain()
        self._committing = None
        if self._owed:
            owed, self._owed = self._owed, []
            self._repair(self._conn, owed)
        self._failure = None

    def stop(self) -> None:
        self._stage.stop()
        self.drain()

    def _run_jobs(
        self, group: list[Job[Any]], weight: int, scratch: dict[str, Any]
    ) -> tuple[list[Outcome], StoreError | None]:
        """Run the jobs in one read transaction of the reader; (outcomes, why all failed)."""
        earlier = () if self._committing is None else (self._committing,)
        outcomes: list[Outcome] = []
        try:
            with self._reader.begin():
                for job in group:
                    tx = Tx(self._reader, scratch, earlier)
                    try:
                        outcomes.append((job, True, job.fn(tx), tx))
                    except Exception as exc:  # noqa: BLE001 - a job's failure is its caller's
                        outcomes.append((job, False, exc, tx))
        except Exception as exc:  # noqa: BLE001 - the read transaction itself failed; the callers get it
            return outcomes, commit_error("staging a group failed", group, weight, exc)
        return outcomes, None

    def _write(self, group: list[Job[Any]], weight: int, outcomes: list[Outcome]) -> RootTransaction | StoreError:
        """Begin the group's transaction and write its deferred items; or why that failed."""
        trans = None
        try:
            trans = self._conn.begin()
            flush_deferred(self._conn, [tx for _, ok, _, tx in outcomes if ok])
        except Exception as exc:  # noqa: BLE001 - the group's callers get it
            if trans is not None:
                with contextlib.suppress(Exception):
                    trans.rollback()
            return commit_error("group commit failed", group, weight, exc)
        return trans

    def _commit(self, written: _Written) -> None:
        """COMMIT the group's transaction, or fail the group (stage thread, or writer thread inline)."""
        outcomes = written.outcomes
        try:
            written.trans.commit()
        except Exception as exc:  # noqa: BLE001 - the group's callers get it
            with contextlib.suppress(Exception):
                written.trans.rollback()
            error = commit_error("group commit failed", written.group, written.weight, exc)
            self._failure = error  # the group staged meanwhile ran on state that included this one
            self._owed.extend(rollback_hooks(outcomes, failed_only=False))
            outcomes = failed(written.group, error, self._conn)
        self._finish(written.group, written.weight, outcomes, written.started)
