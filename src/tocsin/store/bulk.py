"""Bulk writes on the driver's own cursor: the statements of the ingest hot path.

A group commit of a thousand events must be a handful of driver calls, not thousands, and
SQLAlchemy's per-statement and per-row processing costs more than SQLite's own insert. So
the rows of the hottest tables go to the DBAPI cursor directly, as multi-row statements
compiled once per dialect and row shape.

On SQLite every call releases the GIL around ``sqlite3_step`` and must win it back from
the event loop, so a group commit's latency follows the number of calls: rows go out as
multi-row ``INSERT ... VALUES (...), (...)`` statements.

Tried and not kept: CPython's ``sqlite3`` binds ``None`` and ``bool`` through its adapter
protocol, about 0.5 microseconds a value slower than ``int`` or ``str``. Writing NULL into
the statement text saves that, but finding the empty columns of each row in Python cost
as much again (measured per row: 6.5 bound as given, 7.2 shaped and inlined).
"""

from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

from sqlalchemy import Connection

__all__ = ("bulk_write", "driver_cursor", "insert_many", "update_from_values")

T = TypeVar("T")

_MAX_ROWS_PER_STATEMENT = 256
"""Rows in one multi-row statement; fewer when the table is wide."""
_MAX_PARAMS = 30_000
"""Bind parameters in one statement: under SQLite's (32,766) and PostgreSQL's (65,535) limits."""


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the DBAPI connection under ``conn``, inside its current transaction.

    For the hottest statements only: what runs on it bypasses SQLAlchemy's execution
    events and exception wrapping (a driver error propagates as the driver's own class).
    """
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


_compiled: dict[tuple[str, ...], tuple[str, tuple[str, ...] | None]] = {}


def bulk_write(conn: Connection, name: str, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """executemany of ``stmt`` (any statement), compiled once per dialect and row keys, with
    rows passed straight to the driver's cursor."""
    key = (conn.dialect.name, name, *rows[0])
    cached = _compiled.get(key)
    if cached is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
        positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        cached = (str(compiled), positions)
        _compiled[key] = cached
    sql, positions = cached
    cursor = driver_cursor(conn)
    if positions is None:
        cursor.executemany(sql, rows)
    else:
        cursor.executemany(sql, [tuple([row[p] for p in positions]) for row in rows])


class _Shape:
    """One INSERT's compiled parts: ``head`` up to VALUES, the column keys in bind order,
    and one row's placeholder group."""

    __slots__ = ("head", "positions", "texts", "values")

    def __init__(self, head: str, positions: tuple[str, ...], values: str) -> None:
        self.head = head
        self.positions = positions
        self.values = values
        self.texts: dict[int, str] = {}

    def sql(self, n: int) -> str:
        """The statement for ``n`` rows."""
        text = self.texts.get(n)
        if text is None:
            text = self.texts[n] = self.head + ", ".join([self.values] * n)
        return text


_shapes: dict[tuple[Any, ...], _Shape | None] = {}


def _shape(conn: Connection, name: str, stmt: Any, keys: list[str]) -> _Shape | None:
    key = (conn.dialect.name, name, *keys)
    if key not in _shapes:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=keys)
        head, sep, values = str(compiled).partition(" VALUES ")
        ok = compiled.positional and compiled.positiontup and sep and values.startswith("(")
        _shapes[key] = _Shape(head + sep, tuple(compiled.positiontup), values) if ok else None
    return _shapes[key]


def insert_many(conn: Connection, name: str, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) in order, with few multi-row INSERTs.

    Rows go in power-of-two chunks (13 rows: 8 + 4 + 1), so a handful of distinct
    statements per table stay in the driver's statement cache. Falls back to
    ``bulk_write`` for named-parameter drivers.
    """
    if not rows:
        return
    shape = _shape(conn, name, stmt, list(rows[0]))
    if shape is None:
        bulk_write(conn, name, stmt, rows)
        return
    per_stmt = max(1, min(_MAX_ROWS_PER_STATEMENT, _MAX_PARAMS // len(shape.positions)))
    cursor = driver_cursor(conn)
    positions = shape.positions
    for chunk in _chunks(rows, per_stmt):
        cursor.execute(shape.sql(len(chunk)), [row[p] for row in chunk for p in positions])


def _chunks(items: list[T], most: int) -> list[list[T]]:
    """``items`` in power-of-two chunks of at most ``most``."""
    out: list[list[T]] = []
    start = 0
    while start < len(items):
        n = 1 << (min(most, len(items) - start).bit_length() - 1)
        out.append(items[start : start + n])
        start += n
    return out


_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)
"""Whether this SQLite has ``UPDATE ... FROM`` (3.33 and later)."""
_update_sql: dict[tuple[str, str, tuple[str, ...], str, int], str] = {}


def update_from_values(
    conn: Connection,
    table: str,
    key: str,
    columns: tuple[str, ...],
    assignments: str,
    rows: list[dict[str, Any]],
    *,
    fallback: Any,
) -> None:
    """Update ``table`` from ``rows`` (their ``columns``; other keys are ignored).

    On SQLite: ``WITH v(columns) AS (VALUES ...) UPDATE table SET assignments FROM v WHERE
    table.key = v.<first column>``, in chunks like ``insert_many``; one statement per chunk
    rather than one per row. Elsewhere (or on SQLite before 3.33): ``fallback``, an UPDATE
    whose bind parameters are ``columns``, through ``bulk_write``.

    ``rows`` must hold each key once: with two matches SQLite would apply one, arbitrarily.
    """
    if conn.dialect.name != "sqlite" or not _UPDATE_FROM:
        bulk_write(conn, f"{table}:{','.join(columns)}", fallback, [{c: row[c] for c in columns} for row in rows])
        return
    per_stmt = max(1, min(_MAX_ROWS_PER_STATEMENT, _MAX_PARAMS // len(columns)))
    values = "(" + ", ".join(["?"] * len(columns)) + ")"
    cursor = driver_cursor(conn)
    for chunk in _chunks(rows, per_stmt):
        n = len(chunk)
        cache_key = (table, key, columns, assignments, n)
        sql = _update_sql.get(cache_key)
        if sql is None:
            sql = _update_sql[cache_key] = (
                f"WITH v({', '.join(columns)}) AS (VALUES {', '.join([values] * n)}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{columns[0]}"
            )
        cursor.execute(sql, [row[c] for row in chunk for c in columns])
