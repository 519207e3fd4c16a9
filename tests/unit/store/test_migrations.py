"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tocsin.store.schema import metadata
from tocsin.store.sqlite import Database, open_database


def test_migrated_schema_matches_metadata(db: Database) -> None:
    with db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        database = open_database(tmp_path / "x.db")
        database.close()
