"""Deferred-only jobs: no savepoint, rows written per group, order kept for the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import Connection, func, select

from tests.conftest import held_writer
from tocsin._internal.clock import to_us
from tocsin.engine.ingest import ingest_job
from tocsin.engine.state import EngineState
from tocsin.model import Actor, EventIn
from tocsin.store import repo
from tocsin.store.schema import events, incidents, outbox, timeline, tokens
from tocsin.store.sqlite import Database
from tocsin.store.writer import Tx, deferred_only


class TokenSink:
    """Writes deferred token names, recording each flush."""

    def __init__(self) -> None:
        self.flushes: list[list[str]] = []

    def flush(self, conn: Connection, items: list[Any]) -> None:
        self.flushes.append(list(items))
        conn.execute(tokens.insert(), [{"name": n, "role": "device", "hash": n, "created_us": 0} for n in items])


def _names(conn: Connection) -> list[str]:
    return list(conn.execute(select(tokens.c.name).order_by(tokens.c.id)).scalars())


def in_one_group(db: Database, jobs: list[Callable[[Tx], Any]], *, pipelined: bool = True) -> list[Any]:
    """Submit ``jobs`` while the writer is held busy, so they commit as one group."""
    writer = db.writer(max_pending=10_000, max_group_weight=1000, pipelined=pipelined)
    writer.start()

    async def main() -> list[Any]:
        async with held_writer(writer):
            futures = [asyncio.ensure_future(writer.submit(job)) for job in jobs]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    try:
        results = asyncio.run(main())
    finally:
        writer.stop()
    assert writer.stats.commits == 2  # the blocker's group, then all of ``jobs`` together
    return results


@pytest.mark.parametrize("pipelined", [True, False])
def test_failed_deferred_job_drops_its_items_alone(db: Database, pipelined: bool) -> None:
    sink = TokenSink()
    repaired: list[bool] = []

    def defer(name: str, fail: bool = False) -> Callable[[Tx], str]:
        @deferred_only
        def job(tx: Tx) -> str:
            tx.defer(sink, name)
            if fail:
                tx.after_rollback(lambda _conn: repaired.append(True))
                raise RuntimeError("boom")
            return name

        return job

    a, boom, b = in_one_group(db, [defer("a"), defer("bad", fail=True), defer("b")], pipelined=pipelined)
    assert (a, b) == ("a", "b") and isinstance(boom, RuntimeError)
    assert sink.flushes == [["a", "b"]]  # one flush for the group, without the failed job's item
    assert repaired == [True]
    with db.read_engine.connect() as conn:
        assert _names(conn) == ["a", "b"]


def test_deferred_rows_are_written_before_a_job_that_writes_directly(db: Database) -> None:
    sink = TokenSink()
    seen: list[list[str]] = []

    @deferred_only
    def deferred(tx: Tx) -> None:
        tx.defer(sink, "d1")

    def direct(tx: Tx) -> None:
        seen.append(_names(tx.conn))  # must see d1 already
        tx.conn.execute(tokens.insert().values(name="x", role="device", hash="x", created_us=0))

    @deferred_only
    def deferred_again(tx: Tx) -> None:
        tx.defer(sink, "d2")

    in_one_group(db, [deferred, direct, deferred_again])
    assert seen == [["d1"]]
    with db.read_engine.connect() as conn:
        assert _names(conn) == ["d1", "x", "d2"]


def test_a_failing_direct_job_still_rolls_back_to_its_savepoint(db: Database) -> None:
    sink = TokenSink()

    @deferred_only
    def deferred(tx: Tx) -> None:
        tx.defer(sink, "kept")

    def direct_fails(tx: Tx) -> None:
        tx.conn.execute(tokens.insert().values(name="undone", role="device", hash="u", created_us=0))
        raise ValueError("no")

    ok, failed = in_one_group(db, [deferred, direct_fails])
    assert ok is None and isinstance(failed, ValueError)
    with db.read_engine.connect() as conn:
        assert _names(conn) == ["kept"]


@pytest.mark.parametrize("pipelined", [True, False])
def test_repeated_external_id_within_one_group_is_stored_once(db: Database, pipelined: bool) -> None:
    state = EngineState()
    db.writer(max_pending=10, max_group_weight=10).run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    ev = EventIn(type="fire.smoke", method="equipment", source="panel-1", site="s", external_id="e-1")
    actor = Actor(name="t", role="device")
    other = msgspec.structs.replace(ev, site="t", external_id="e-2")
    first, again = in_one_group(
        db,
        [
            ingest_job(state, [ev], received_us=10, actor=actor),
            ingest_job(state, [ev, other], received_us=11, actor=actor),
        ],
        pipelined=pipelined,
    )
    assert again[0] == first[0]
    with db.read_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(timeline)).scalar_one() == 2


@pytest.mark.parametrize("count", [1, 13, 300])
def test_insert_many_writes_every_row_in_order(db: Database, count: int) -> None:
    rows = [
        {
            "id": i + 1,
            "channel": "h",
            "payload": f"{i}",
            "created_us": i,
            "next_attempt_us": i,
            "attempts": 0,
            "state": "pending",
        }
        for i in range(count)
    ]
    db.writer(max_pending=10, max_group_weight=10).run_blocking(lambda tx: repo.insert_outbox(tx.conn, rows))
    with db.read_engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))]
    assert got == [(r["id"], r["payload"]) for r in rows]


def test_one_incident_touched_by_several_jobs_of_a_group_counts_every_event(db: Database) -> None:
    state = EngineState()
    writer = db.writer(max_pending=10, max_group_weight=10)
    writer.run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    actor = Actor(name="t", role="device")
    ev = EventIn(type="fire.smoke", method="equipment", source="panel-1", site="s")
    writer.run_blocking(ingest_job(state, [ev], received_us=10, actor=actor))  # opens the incident
    in_one_group(
        db,
        [
            ingest_job(state, [ev, ev], received_us=11, actor=actor),
            ingest_job(state, [ev], received_us=12, actor=actor),
            ingest_job(state, [msgspec.structs.replace(ev, condition="cleared")], received_us=13, actor=actor),
        ],
    )
    with db.read_engine.connect() as conn:
        row = conn.execute(select(incidents.c.event_count, incidents.c.condition, incidents.c.updated_us)).one()
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
    assert tuple(row) == (5, "cleared", 13)
    assert stored == 5


def test_an_older_event_moves_the_incident_first_time_back_and_a_newer_one_does_not(db: Database) -> None:
    state = EngineState()
    writer = db.writer(max_pending=10, max_group_weight=10)
    writer.run_blocking(lambda tx: state.bootstrap(tx.conn, now_us=1))
    base = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    ev = EventIn(type="fire.smoke", method="equipment", source="panel-1", site="s", occurred_at=base)
    actor = Actor(name="t", role="device")
    writer.run_blocking(ingest_job(state, [ev], received_us=10, actor=actor))
    older = msgspec.structs.replace(ev, occurred_at=base - timedelta(seconds=30))
    newer = msgspec.structs.replace(ev, occurred_at=base + timedelta(seconds=30))
    in_one_group(
        db,
        [
            ingest_job(state, [newer], received_us=11, actor=actor),
            ingest_job(state, [older], received_us=12, actor=actor),
        ],
    )
    in_one_group(db, [ingest_job(state, [newer], received_us=13, actor=actor)])
    with db.read_engine.connect() as conn:
        first, last, count = conn.execute(
            select(incidents.c.first_event_us, incidents.c.last_event_us, incidents.c.event_count)
        ).one()
    assert (first, last, count) == (to_us(base - timedelta(seconds=30)), to_us(base + timedelta(seconds=30)), 4)
