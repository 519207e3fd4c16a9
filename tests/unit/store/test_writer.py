"""The single writer: group commit, isolation of a failing job, bounded queue."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text

from tests.conftest import held_writer
from tocsin._internal.priority import BACKGROUND_NICE
from tocsin.errors import StoreUnavailable
from tocsin.store.pipeline import Stage
from tocsin.store.schema import tokens
from tocsin.store.sqlite import Database
from tocsin.store.writer import BULK_GROUP_WHILE_URGENT, Tx, Writer

T = TypeVar("T")


def _insert(name: str) -> Callable[[Tx], str]:
    def job(tx: Tx) -> str:
        tx.conn.execute(tokens.insert().values(name=name, role="device", hash=name, created_us=0))
        return name

    return job


def _count(db: Database) -> int:
    with db.read_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tokens)).scalar_one())


def _serve(writer: Writer, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` while the writer's thread runs; stop it after."""
    writer.start()
    try:
        return asyncio.run(main())
    finally:
        writer.stop()


def test_concurrent_jobs_share_commits(db: Database) -> None:
    writer = db.writer(max_pending=10_000, max_group_weight=1000)

    async def main() -> list[str]:
        async with held_writer(writer):  # the next 200 jobs queue up behind it and commit together
            jobs = [asyncio.ensure_future(writer.submit(_insert(f"t{i}"))) for i in range(200)]
        return list(await asyncio.gather(*jobs))

    names = _serve(writer, main)
    assert names == [f"t{i}" for i in range(200)]
    assert _count(db) == 200
    assert writer.stats.jobs == 201
    assert writer.stats.commits <= 3


def test_failing_job_rolls_back_alone(db: Database) -> None:
    writer = db.writer(max_pending=10_000, max_group_weight=1000)
    repaired: list[bool] = []

    def bad(tx: Tx) -> None:
        tx.conn.execute(tokens.insert().values(name="bad", role="device", hash="bad", created_us=0))
        tx.after_rollback(lambda conn: repaired.append(True))
        raise RuntimeError("boom")

    async def main() -> tuple[object, ...]:
        async with held_writer(writer):
            futs = [writer.submit(_insert("a")), writer.submit(bad), writer.submit(_insert("b"))]
            tasks = [asyncio.ensure_future(f) for f in futs]
        return tuple(await asyncio.gather(*tasks, return_exceptions=True))

    a, boom, b = _serve(writer, main)
    assert (a, b) == ("a", "b")
    assert isinstance(boom, RuntimeError)
    assert repaired == [True]
    with db.read_engine.connect() as conn:
        assert sorted(conn.execute(select(tokens.c.name)).scalars()) == ["a", "b"]


def test_queue_over_bound_is_refused_not_queued(db: Database) -> None:
    writer = db.writer(max_pending=100, max_group_weight=1000)

    async def main() -> None:
        async with held_writer(writer, weight=90):
            with pytest.raises(StoreUnavailable) as info:
                await writer.submit(_insert("x"), weight=20)
            assert info.value.retry_after >= 1 and info.value.status_code == 503
        assert await writer.submit(_insert("y"), weight=20) == "y"

    _serve(writer, main)


def test_urgent_jobs_have_a_reserve_past_the_bound(db: Database) -> None:
    writer = db.writer(max_pending=100, max_group_weight=1000)

    async def main() -> None:
        async with held_writer(writer, weight=95):
            with pytest.raises(StoreUnavailable):  # bulk: refused at the bound
                await writer.submit(_insert("bulk"), weight=10)
            urgent = asyncio.ensure_future(writer.submit(_insert("urgent"), weight=10, urgent=True))
            await asyncio.sleep(0.01)
            with pytest.raises(StoreUnavailable):  # the reserve is a tenth of the bound, no more
                await writer.submit(_insert("late"), weight=10, urgent=True)
        assert await urgent == "urgent"

    _serve(writer, main)


def test_after_commit_runs_only_for_committed_jobs(db: Database) -> None:
    writer = db.writer(max_pending=100, max_group_weight=1000)
    seen: list[str] = []

    def ok(tx: Tx) -> None:
        tx.after_commit(lambda: seen.append("ok"))

    def fails(tx: Tx) -> None:
        tx.after_commit(lambda: seen.append("fails"))
        raise ValueError("no")

    async def main() -> None:
        await writer.submit(ok)
        with pytest.raises(ValueError):
            await writer.submit(fails)

    _serve(writer, main)
    assert seen == ["ok"]


def test_wal_and_durable_sync(tmp_path: Path) -> None:
    database = Database(tmp_path / "d.db")
    try:
        with database.write_engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
    finally:
        database.close()


def _run_queued(db: Database, max_group: int, queued: list[tuple[str, bool]], weight: int = 1) -> list[list[str]]:
    """Queue ``(name, urgent)`` jobs of ``weight`` behind a busy writer, release it; the groups as committed."""
    writer = db.writer(max_pending=10_000, max_group_weight=max_group)
    ran: list[str] = []
    groups: list[list[str]] = []

    def observe(jobs: int, _weight: int, _seconds: float) -> None:
        groups.append(ran[-jobs:] if jobs else [])

    writer.stats.observer = observe

    def job(name: str) -> Callable[[Tx], None]:
        return lambda tx: ran.append(name)

    async def main() -> None:
        async with held_writer(writer, first=lambda: ran.append("blocker")):
            tasks = [
                asyncio.ensure_future(writer.submit(job(name), weight=weight, urgent=urgent)) for name, urgent in queued
            ]
            await asyncio.sleep(0.05)  # every job is queued before the writer is let go
        await asyncio.gather(*tasks)

    _serve(writer, main)
    return groups


def test_urgent_jobs_commit_ahead_of_bulk_queued_before_them(db: Database) -> None:
    queued = [(f"b{i}", False) for i in range(10)] + [(f"u{i}", True) for i in range(3)]
    groups = _run_queued(db, 1000, queued)
    assert groups == [["blocker"], ["u0", "u1", "u2"], [f"b{i}" for i in range(10)]]


def test_neither_lane_starves_the_other(db: Database) -> None:
    queued = [(f"b{i}", False) for i in range(4)] + [(f"u{i}", True) for i in range(4)]
    groups = _run_queued(db, 2, queued)
    assert groups == [["blocker"], ["u0", "u1"], ["b0", "b1"], ["u2", "u3"], ["b2", "b3"]]


def test_a_bulk_group_takes_the_urgent_jobs_waiting_when_it_forms(db: Database) -> None:
    # The urgent group is full at three; the bulk group after it has room for the fourth.
    queued = [("b0", False), ("b1", False)] + [(f"u{i}", True) for i in range(4)]
    groups = _run_queued(db, 3, queued)
    assert groups == [["blocker"], ["u0", "u1", "u2"], ["b0", "b1", "u3"]]


def test_bulk_groups_shrink_while_urgent_jobs_flow(db: Database) -> None:
    # An urgent job waits for the bulk group in progress: right after an urgent group,
    # bulk groups hold at most BULK_GROUP_WHILE_URGENT of weight (two jobs of 100 here).
    assert BULK_GROUP_WHILE_URGENT == 200
    queued = [(f"b{i}", False) for i in range(5)] + [("u0", True)]
    groups = _run_queued(db, 1000, queued, weight=100)
    assert groups == [["blocker"], ["u0"], ["b0", "b1"], ["b2", "b3"], ["b4"]]
    # Without urgent traffic one group takes them all.
    assert _run_queued(db, 1000, [(f"b{i}", False) for i in range(5)], weight=100)[1:] == [[f"b{i}" for i in range(5)]]


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_jobs_and_commits_run_at_a_lower_priority_than_the_event_loop(db: Database) -> None:
    """The store's threads yield the cores to the loops that answer (tocsin._internal.priority)."""
    writer = db.writer(max_pending=10, max_group_weight=10)
    seen: dict[str, int] = {}

    def job(tx: Tx) -> None:
        seen["job"] = _nice()

    async def main() -> None:
        await writer.submit(job)

    _serve(writer, main)
    assert seen["job"] == min(19, _nice() + BACKGROUND_NICE)
    assert _nice() < seen["job"]  # the caller's thread is untouched

    handled: list[int] = []
    stage: Stage[int] = Stage(lambda _: handled.append(_nice()), name="probe")
    stage.start()
    stage.hand(1)
    stage.stop()
    assert handled == [min(19, _nice() + BACKGROUND_NICE)]
