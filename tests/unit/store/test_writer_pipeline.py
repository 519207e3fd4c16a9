"""The pipelined writer: the next group runs while the last one commits, and nothing it
decides may depend on rows that are written but not yet committed being visible."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from tocsin.engine.ingest import ingest_job
from tocsin.engine.state import EngineState
from tocsin.errors import StoreError
from tocsin.model import Actor, EventIn
from tocsin.store.schema import events, tokens
from tocsin.store.sqlite import Database
from tocsin.store.writer import Tx, Writer, deferred_only

ACTOR = Actor(name="t", role="device")


class GatedSink:
    """A group sink that holds the commit stage until released, then writes or raises."""

    def __init__(self, *, fail: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def flush(self, conn: Connection, items: list[Any]) -> None:
        self.entered.set()
        assert self.release.wait(5)
        if self.fail:
            raise OSError("disk on fire")
        conn.execute(tokens.insert(), [{"name": n, "role": "device", "hash": n, "created_us": 0} for n in items])


def gated(sink: GatedSink, name: str, repaired: list[str] | None = None) -> Any:
    @deferred_only
    def job(tx: Tx) -> str:
        tx.defer(sink, name)
        if repaired is not None:
            tx.after_rollback(lambda _conn: repaired.append(name))
        return name

    return job


@pytest.fixture
def state() -> EngineState:
    return EngineState()


@pytest.fixture
def writer(db: Database, state: EngineState) -> Any:
    w = Writer(db.write_engine, lookups=db.lookup_engine, max_pending=10_000, max_group_weight=1000)
    w.run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    w.start()
    yield w
    w.stop()


async def _until(flag: threading.Event) -> None:
    for _ in range(500):
        if flag.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the commit stage never reached the sink")


def test_a_repeat_in_the_next_group_finds_the_uncommitted_original(
    db: Database, writer: Writer, state: EngineState
) -> None:
    ev = EventIn(type="fire.smoke", method="equipment", source="panel-1", site="s", external_id="e-1")
    sink = GatedSink()

    async def main() -> tuple[Any, Any]:
        first = asyncio.ensure_future(writer.submit(ingest_job(state, [ev], received_us=10, actor=ACTOR)))
        hold = asyncio.ensure_future(writer.submit(gated(sink, "hold")))
        await _until(sink.entered)  # group 1 is being committed, not yet durable
        again = asyncio.ensure_future(writer.submit(ingest_job(state, [ev], received_us=11, actor=ACTOR)))
        await asyncio.sleep(0.1)  # group 2 runs meanwhile
        assert not first.done()
        sink.release.set()
        await hold
        return await first, await again

    first, again = asyncio.run(main())
    assert again == first
    with db.read_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1


def test_a_failed_commit_fails_the_groups_run_on_its_state_then_recovers(db: Database, writer: Writer) -> None:
    failing = GatedSink(fail=True)
    later = GatedSink()
    later.release.set()
    repaired: list[str] = []

    async def main() -> list[Any]:
        doomed = asyncio.ensure_future(writer.submit(gated(failing, "doomed", repaired)))
        await _until(failing.entered)
        behind = asyncio.ensure_future(writer.submit(gated(later, "behind", repaired)))
        await asyncio.sleep(0.1)  # run by the first stage and handed over while the commit hangs
        failing.release.set()
        results: list[Any] = list(await asyncio.gather(doomed, behind, return_exceptions=True))
        results.append(await writer.submit(gated(later, "after")))
        return results

    doomed, behind, after = asyncio.run(main())
    assert isinstance(doomed, StoreError) and isinstance(behind, StoreError)
    assert after == "after"
    assert sorted(repaired) == ["behind", "doomed"]
    with db.read_engine.connect() as conn:
        assert list(conn.execute(select(tokens.c.name)).scalars()) == ["after"]
