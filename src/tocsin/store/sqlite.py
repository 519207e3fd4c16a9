"""The embedded store: a SQLite file in WAL mode, one writer thread, pooled readers.

Opening a database creates or migrates it (Alembic), so every command that takes
``--db`` works on a fresh path. Readers never take the writer's lock: WAL gives each
read transaction a consistent snapshot while the writer commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from tocsin.errors import ConfigError
from tocsin.store.writer import Writer

__all__ = ("Database", "open_database")

T = TypeVar("T")

_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def _engine(path: Path, *, synchronous: str, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (needed for SAVEPOINT).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty file)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("tocsin.store") / "migrations"))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


class Database:
    """A migrated SQLite database with its writer and reader engines."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", readers: int = 4) -> None:
        if synchronous.upper() not in _SYNC_MODES:
            raise ConfigError(f"synchronous must be one of {', '.join(_SYNC_MODES)}, not {synchronous!r}")
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.write_engine = _engine(path, synchronous=synchronous.upper(), immediate=True, pool_size=1)
        self.read_engine = _engine(path, synchronous=synchronous.upper(), immediate=False, pool_size=readers)
        self.staging_read_engine = _engine(path, synchronous=synchronous.upper(), immediate=False, pool_size=1)
        """The writer's own reader, for the jobs it stages while the last group commits."""
        migrate(self.write_engine)

    def writer(self, *, max_pending: int, max_group_weight: int, pipelined: bool = True) -> Writer:
        """The single writer; ``pipelined`` overlaps staging and committing groups (see ``tocsin.store.writer``)."""
        return Writer(
            self.write_engine,
            reader=self.staging_read_engine if pipelined else None,
            max_pending=max_pending,
            max_group_weight=max_group_weight,
        )

    def read_blocking(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one read transaction (a consistent snapshot), on this thread."""
        with self.read_engine.connect() as conn, conn.begin():
            return fn(conn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a read transaction on a worker thread; never blocks the writer."""
        return await asyncio.to_thread(self.read_blocking, fn)

    def close(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()
        self.staging_read_engine.dispose()


def open_database(path: str | Path, *, synchronous: str = "FULL") -> Database:
    """Open (creating and migrating as needed) the SQLite database at ``path``."""
    return Database(Path(path), synchronous=synchronous)
