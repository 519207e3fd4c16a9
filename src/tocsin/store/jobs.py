"""What a writer job is and what it sees: ``Tx``, group sinks, and a job's outcome.

Shared by the writer thread (``tocsin.store.writer``) and its commit pipeline
(``tocsin.store.pipeline``); the contract they keep is in the writer's docstring.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from tocsin.errors import StoreError

__all__ = (
    "AfterCommit",
    "AfterRollback",
    "GroupSink",
    "Job",
    "Outcome",
    "Tx",
    "commit_error",
    "deferred_only",
    "failed",
    "flush_deferred",
    "rollback_hooks",
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("tocsin.store.writer")

AfterCommit = Callable[[], None]
AfterRollback = Callable[[Connection], None]


def deferred_only(fn: F) -> F:
    """Mark a job as writing only through ``Tx.defer`` (see ``tocsin.store.writer``)."""
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
        """Scratch shared by the jobs of one group commit (see ``tocsin.store.writer``)."""
        self.earlier = earlier
        """The ``group`` scratch of earlier groups not committed yet (pipelining), oldest first."""
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


class Job(Generic[T]):
    """A submitted job and the future its caller awaits."""

    __slots__ = ("fn", "future", "loop", "overlap", "weight")

    def __init__(
        self,
        fn: Callable[[Tx], T],
        future: asyncio.Future[T],
        loop: asyncio.AbstractEventLoop,
        weight: int,
        *,
        overlap: bool = False,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.weight = weight
        self.overlap = overlap
        """Urgent, but no sender waits on its COMMIT: that may overlap the next group (``Writer.submit``)."""


Outcome = tuple[Job[Any], bool, Any, Tx]
"""(job, whether it succeeded, its result or exception, its Tx)."""


def flush_deferred(conn: Connection, txs: list[Tx]) -> None:
    """Write the deferred items of ``txs``: one ``flush`` per sink, items in job order."""
    by_sink: dict[int, tuple[GroupSink, list[Any]]] = {}
    for tx in txs:
        for sink, item in tx._deferred:
            by_sink.setdefault(id(sink), (sink, []))[1].append(item)
    for sink, items in by_sink.values():
        sink.flush(conn, items)


def rollback_hooks(outcomes: list[Outcome], *, failed_only: bool) -> list[AfterRollback]:
    """The rollback hooks of the jobs (only those that raised, with ``failed_only``)."""
    return [hook for _, ok, _, tx in outcomes if not (ok and failed_only) for hook in tx._after_rollback]


def failed(group: list[Job[Any]], error: StoreError, conn: Connection) -> list[Outcome]:
    """Every job of ``group`` failed with ``error`` (their writes did not commit)."""
    return [(job, False, error, Tx(conn)) for job in group]


def commit_error(what: str, group: list[Job[Any]], weight: int, exc: Exception) -> StoreError:
    """Log why a whole group failed; the error its callers get."""
    log.exception(what, extra={"jobs": len(group), "weight": weight})
    error = StoreError(f"commit failed: {exc}")
    error.__cause__ = exc
    return error
