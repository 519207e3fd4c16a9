"""Shared fixtures: a migrated database, an engine driven synchronously, a writer held busy."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tocsin.engine.ingest import IngestResult, ingest_job
from tocsin.engine.state import EngineState
from tocsin.model import Actor, EventIn
from tocsin.store.sqlite import Database, open_database
from tocsin.store.writer import Tx, Writer


class SyncEngine:
    """Runs engine jobs on the calling thread (no writer thread): deterministic for tests."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.writer = db.writer(max_pending=1_000_000, max_group_weight=5000)
        self.state = EngineState()
        self.writer.run_blocking(lambda tx: self.state.bootstrap(tx.conn, now_us=1))

    def ingest(self, events: Sequence[EventIn], *, received_us: int = 1_700_000_000_000_000) -> IngestResult:
        result: IngestResult = self.writer.run_blocking(
            ingest_job(self.state, events, received_us=received_us, actor=Actor(name="test", role="device"))
        )
        return result


@contextlib.asynccontextmanager
async def held_writer(
    writer: Writer, *, weight: int = 1, first: Callable[[], object] = lambda: None
) -> AsyncIterator[None]:
    """Keep the writer busy on one job (of ``weight``; ``first`` runs as it starts) for the
    block, so what the block submits queues up behind it; let it go on leaving."""
    gate = threading.Event()

    def hold(tx: Tx) -> None:
        first()
        gate.wait(5)

    blocker = asyncio.ensure_future(writer.submit(hold, weight=weight))
    await asyncio.sleep(0.05)
    try:
        yield
    finally:
        gate.set()
        await blocker


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "t.db", synchronous="OFF")
    yield database
    database.close()


@pytest.fixture
def engine(db: Database) -> SyncEngine:
    return SyncEngine(db)
