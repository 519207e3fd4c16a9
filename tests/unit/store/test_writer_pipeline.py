"""Pipelined group commits: the next group's jobs run while the last group's COMMIT waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.unit.store.test_writer_deferred import TokenSink, _names
from tocsin.engine.ingest import ingest_job
from tocsin.engine.state import EngineState
from tocsin.errors import StoreError
from tocsin.model import Actor, EventIn
from tocsin.store import pipeline as pipeline_module
from tocsin.store.schema import events, tokens
from tocsin.store.sqlite import Database
from tocsin.store.writer import Tx, Writer, deferred_only

_SINK = TokenSink()


class HeldCommit:
    """Holds the commit stage at the first COMMIT until ``release``; ``fail`` makes that COMMIT fail."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.reached = threading.Event()
        self._gate = threading.Event()
        self._first = True
        original = pipeline_module.Pipeline._commit

        def commit(pipe: Any, written: Any) -> None:
            if self._first:
                self._first = False
                self.reached.set()
                self._gate.wait(5)
                if fail:
                    written = written._replace(trans=_FailingCommit(written.trans))
            original(pipe, written)

        monkeypatch.setattr(pipeline_module.Pipeline, "_commit", commit)

    def release(self) -> None:
        self._gate.set()


class _FailingCommit:
    def __init__(self, trans: Any) -> None:
        self._trans = trans

    def commit(self) -> None:
        raise OSError("disk I/O error")

    def rollback(self) -> None:
        self._trans.rollback()


@pytest.fixture
def writer(db: Database) -> Iterator[Writer]:
    """A pipelined writer, not started: a test patches the commit stage first."""
    w = db.writer(max_pending=10_000, max_group_weight=1000)
    yield w
    w.stop()


def _token(name: str, ran: list[str] | None = None, repaired: list[str] | None = None) -> Callable[[Tx], str]:
    @deferred_only
    def job(tx: Tx) -> str:
        if ran is not None:
            ran.append(name)
        if repaired is not None:
            tx.after_rollback(lambda conn: repaired.append(name))
        tx.defer(_SINK, name)
        return name

    return job


def _stored(db: Database) -> list[str]:
    with db.read_engine.connect() as conn:
        return _names(conn)


async def _until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 5)


def test_the_next_groups_jobs_run_while_the_last_commit_waits(
    db: Database, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldCommit(monkeypatch)
    writer.start()
    ran: list[str] = []

    async def main() -> list[str]:
        first = asyncio.ensure_future(writer.submit(_token("a", ran)))
        await _until(held.reached)
        second = asyncio.ensure_future(writer.submit(_token("b", ran)))
        for _ in range(200):  # b's job runs although a is not committed yet
            if "b" in ran:
                break
            await asyncio.sleep(0.01)
        assert ran == ["a", "b"] and not first.done()
        held.release()
        return [await first, await second]

    assert asyncio.run(main()) == ["a", "b"]
    assert _stored(db) == ["a", "b"]


def test_a_repeat_staged_while_its_first_copy_commits_gets_the_first_ids(
    db: Database, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = EngineState()
    writer.run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    held = HeldCommit(monkeypatch)
    writer.start()
    ev = EventIn(type="fire.smoke", method="equipment", source="panel-1", site="s", external_id="e-1")
    actor = Actor(name="t", role="device")

    async def main() -> tuple[Any, Any]:
        first = asyncio.ensure_future(writer.submit(ingest_job(state, [ev], received_us=10, actor=actor)))
        await _until(held.reached)
        again = asyncio.ensure_future(writer.submit(ingest_job(state, [ev], received_us=11, actor=actor)))
        await asyncio.sleep(0.1)  # the repeat runs against the reader, which cannot see the first yet
        held.release()
        return await first, await again

    first, again = asyncio.run(main())
    assert again == first
    with db.read_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1


def test_a_failed_commit_fails_the_group_staged_meanwhile_and_repairs_both(
    db: Database, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldCommit(monkeypatch, fail=True)
    writer.start()
    repaired: list[str] = []

    async def main() -> list[Any]:
        first = asyncio.ensure_future(writer.submit(_token("a", repaired=repaired)))
        await _until(held.reached)
        second = asyncio.ensure_future(writer.submit(_token("b", repaired=repaired)))
        await asyncio.sleep(0.1)  # b is staged on state that includes a
        held.release()
        outcomes = list(await asyncio.gather(first, second, return_exceptions=True))
        outcomes.append(await writer.submit(_token("c", repaired=repaired)))
        return outcomes

    a, b, c = asyncio.run(main())
    assert isinstance(a, StoreError) and isinstance(b, StoreError)
    assert "disk I/O error" in str(a)
    assert c == "c"
    assert sorted(repaired) == ["a", "b"]
    assert _stored(db) == ["c"]


def test_a_direct_job_after_staged_groups_sees_their_rows(db: Database, writer: Writer) -> None:
    def count(tx: Tx) -> int:
        return int(tx.conn.execute(select(func.count()).select_from(tokens)).scalar_one())

    writer.start()

    async def main() -> int:
        staged = [asyncio.ensure_future(writer.submit(_token(f"t{i}"))) for i in range(50)]
        await asyncio.sleep(0)  # each task queues its job as it starts
        seen = await writer.submit(count)
        await asyncio.gather(*staged)
        return seen

    assert asyncio.run(main()) == 50


@pytest.mark.parametrize(
    ("first", "lane"),
    [("bulk", {}), ("journaled", {"urgent": True, "overlap": True})],
    ids=["bulk", "urgent-overlap"],
)
def test_a_waited_urgent_group_commits_on_the_writer_thread_and_others_on_the_stage(
    db: Database, writer: Writer, monkeypatch: pytest.MonkeyPatch, first: str, lane: dict[str, bool]
) -> None:
    """A bulk group, and an urgent one no sender waits on (``overlap``), hand their COMMIT to
    the stage; an urgent group whose sender waits commits on the writer thread."""
    committed_on: list[str] = []
    original = pipeline_module.Pipeline._commit

    def commit(pipe: Any, written: Any) -> None:
        committed_on.append(threading.current_thread().name)
        original(pipe, written)

    monkeypatch.setattr(pipeline_module.Pipeline, "_commit", commit)
    writer.start()

    async def main() -> None:
        await writer.submit(_token(first), **lane)
        await writer.submit(_token("waited"), urgent=True)

    asyncio.run(main())
    assert committed_on == ["tocsin-commit", "tocsin-writer"]
    assert _stored(db) == [first, "waited"]
