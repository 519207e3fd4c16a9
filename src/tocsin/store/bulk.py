"""Bulk writes on the driver's own cursor: the statements of the ingest hot path.

A group commit of a thousand events must be a handful of driver calls, not thousands, and
SQLAlchemy's per-statement and per-row processing costs more than SQLite's own insert. So
the rows of the hottest tables go to the DBAPI cursor directly, as multi-row statements
compiled once per dialect and row shape.

On SQLite, two more things matter, both about CPython's ``sqlite3`` module:

- Every call releases the GIL around ``sqlite3_step`` and must win it back from the event
  loop, so a group commit's latency follows the number of calls: rows go out as
  multi-row ``INSERT ... VALUES (...), (...)`` statements.
- The module binds only exact ``int``, ``float``, ``str`` and ``bytes`` directly. Any
  other value, ``None`` and ``bool`` (a subclass of int) included, goes through the
  adapter protocol, which looks up and fails on two attributes per value, raising and
  clearing an exception each time. On an event row with five empty fields that was more
  than half the insert (7.7 against 3.4 microseconds a row, measured with
  ``bench/sqlite_binding.py``), all of it holding the GIL. So NULL is written into the
  statement text where a row has ``None`` (consecutive rows with the same empty columns
  share a statement, so the order of rows is kept) and booleans are bound as 0 and 1,
  which is how SQLAlchemy stores them on SQLite anyway.

PostgreSQL gets the same multi-row statements with its own values: its driver types
``None`` and ``bool`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Connection

__all__ = ("bulk_write", "driver_cursor", "insert_many", "update_from_values")

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
    which of them are booleans, and the placeholder each takes."""

    __slots__ = ("booleans", "head", "mark", "positions", "texts")

    def __init__(self, head: str, positions: tuple[str, ...], booleans: tuple[int, ...], mark: str) -> None:
        self.head = head
        self.positions = positions
        self.booleans = booleans
        self.mark = mark
        self.texts: dict[tuple[tuple[int, ...], int], str] = {}

    def sql(self, nulls: tuple[int, ...], n: int) -> str:
        """The statement for ``n`` rows with NULL written in at the ``nulls`` positions."""
        text = self.texts.get((nulls, n))
        if text is None:
            marks = [self.mark] * len(self.positions)
            for i in nulls:
                marks[i] = "NULL"
            text = self.texts[(nulls, n)] = self.head + ", ".join(["(" + ", ".join(marks) + ")"] * n)
        return text


_shapes: dict[tuple[Any, ...], _Shape | None] = {}


def _shape(conn: Connection, name: str, stmt: Any, keys: list[str]) -> _Shape | None:
    key = (conn.dialect.name, name, *keys)
    if key not in _shapes:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=keys)
        head, sep, values = str(compiled).partition(" VALUES ")
        if not (compiled.positional and compiled.positiontup and sep and values.startswith("(")):
            _shapes[key] = None
        else:
            positions = tuple(compiled.positiontup)
            columns = stmt.table.c
            booleans = tuple(
                i for i, p in enumerate(positions) if p in columns and isinstance(columns[p].type, Boolean)
            )
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            _shapes[key] = _Shape(head + sep, positions, booleans, mark)
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
    if conn.dialect.name != "sqlite":
        for chunk in _chunks([[row[p] for p in shape.positions] for row in rows], per_stmt):
            cursor.execute(shape.sql((), len(chunk)), [v for values in chunk for v in values])
        return
    for nulls, run in _runs(rows, shape.positions, shape.booleans):
        for chunk in _chunks(run, per_stmt):
            cursor.execute(shape.sql(nulls, len(chunk)), [v for values in chunk for v in values])


def _runs(
    rows: list[dict[str, Any]], positions: Sequence[str], booleans: Sequence[int]
) -> list[tuple[tuple[int, ...], list[list[Any]]]]:
    """Consecutive rows with the same empty columns, as (NULL positions, bindable values
    without them); booleans as 0/1 (SQLite only: see the module docstring)."""
    runs: list[tuple[tuple[int, ...], list[list[Any]]]] = []
    current: list[list[Any]] | None = None
    current_nulls: tuple[int, ...] = ()
    for row in rows:
        values = [row[p] for p in positions]
        for i in booleans:
            v = values[i]
            if v is not None:
                values[i] = 1 if v else 0
        nulls: tuple[int, ...] = ()
        if None in values:
            nulls = tuple([i for i, v in enumerate(values) if v is None])
            values = [v for v in values if v is not None]
        if current is None or nulls != current_nulls:
            current, current_nulls = [], nulls
            runs.append((nulls, current))
        current.append(values)
    return runs


def _chunks(items: list[list[Any]], most: int) -> list[list[list[Any]]]:
    """``items`` in power-of-two chunks of at most ``most``."""
    out: list[list[list[Any]]] = []
    start = 0
    while start < len(items):
        n = 1 << (min(most, len(items) - start).bit_length() - 1)
        out.append(items[start : start + n])
        start += n
    return out


_update_sql: dict[tuple[str, str, tuple[int, ...], int], str] = {}


def update_from_values(
    conn: Connection, table: str, key: str, columns: tuple[str, ...], assignments: str, rows: list[dict[str, Any]]
) -> None:
    """``WITH v(columns) AS (VALUES ...) UPDATE table SET assignments FROM v WHERE table.key = v.<first>``
    (SQLite 3.33 and later), in order, with NULL written in as ``insert_many`` does.

    ``rows`` must hold each key once: with two matches SQLite would apply one, arbitrarily.
    """
    per_stmt = max(1, min(_MAX_ROWS_PER_STATEMENT, _MAX_PARAMS // len(columns)))
    cursor = driver_cursor(conn)
    for nulls, run in _runs(rows, columns, ()):  # no boolean columns are updated this way
        for chunk in _chunks(run, per_stmt):
            n = len(chunk)
            sql = _update_sql.get((table, assignments, nulls, n))
            if sql is None:
                marks = ["?"] * len(columns)
                for i in nulls:
                    marks[i] = "NULL"
                values = "(" + ", ".join(marks) + ")"
                sql = _update_sql[(table, assignments, nulls, n)] = (
                    f"WITH v({', '.join(columns)}) AS (VALUES {', '.join([values] * n)}) "
                    f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{key} = v.{columns[0]}"
                )
            cursor.execute(sql, [v for values in chunk for v in values])
