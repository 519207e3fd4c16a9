"""Bulk writes: every row stored as given, in order, whichever of its columns are empty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, bindparam, create_engine, select, update

from tocsin.store import bulk
from tocsin.store.schema import events, metadata, timeline

_NULLABLE = ("external_id", "site", "lat", "lon", "description", "attributes", "raw", "incident_id")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = create_engine("sqlite://")
    metadata.create_all(eng, tables=[events, timeline])
    yield eng
    eng.dispose()


def _row(i: int, empty: frozenset[str], exercise: bool) -> dict[str, Any]:
    full: dict[str, Any] = {
        "id": i,
        "source": f"panel-{i}",
        "external_id": f"x-{i}",
        "type": "fire.smoke",
        "alarm_type": "fire.smoke",
        "method": "equipment",
        "site": f"site-{i % 7}",
        "occurred_us": 1_000 + i,
        "received_us": 2_000 + i,
        "condition": "active",
        "exercise": exercise,
        "lat": 51.5 + i / 1000,
        "lon": -0.1,
        "description": f"row {i}",
        "attributes": '{"zone": 3}',
        "raw": "raw frame",
        "incident_id": 10 + i,
    }
    return {k: (None if k in empty else v) for k, v in full.items()}


def _stored(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(events).order_by(events.c.id)).mappings()]


_rows = st.lists(
    st.tuples(st.frozensets(st.sampled_from(_NULLABLE)), st.booleans()),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_rows)
def test_insert_many_stores_each_row_exactly_whatever_columns_are_empty(engine: Engine, shapes: Any) -> None:
    rows = [_row(i + 1, empty, exercise) for i, (empty, exercise) in enumerate(shapes)]
    with engine.connect() as conn, conn.begin():
        bulk.insert_many(conn, "events", events.insert(), rows)
        stored = _stored(conn)
        conn.execute(events.delete())
    assert stored == rows
    assert all(type(r["exercise"]) is bool for r in stored)  # 0/1 on the wire, bool when read


def test_rows_keep_their_order_across_changes_of_empty_columns(engine: Engine) -> None:
    """Timeline rows are numbered in the order written: runs must not be regrouped."""
    states = [None, "new", None, None, "acknowledged", None]
    rows = [
        {
            "incident_id": 1,
            "at_us": i,
            "actor": "t",
            "action": f"a{i}",
            "from_state": s,
            "to_state": "x",
            "text": None if i % 2 else "note",
            "data": None,
        }
        for i, s in enumerate(states)
    ]
    with engine.connect() as conn, conn.begin():
        bulk.insert_many(conn, "timeline", timeline.insert(), rows)
        got = [(r.action, r.from_state, r.text) for r in conn.execute(select(timeline).order_by(timeline.c.id))]
        conn.execute(timeline.delete())
    assert got == [(r["action"], r["from_state"], r["text"]) for r in rows]


@pytest.mark.parametrize("count", [1, 3, 255, 256, 257, 600])
def test_chunks_cover_every_row_once_in_power_of_two_sizes(count: int) -> None:
    chunks = bulk._chunks([[i] for i in range(count)], 256)
    assert [v[0] for c in chunks for v in c] == list(range(count))
    assert all(len(c) & (len(c) - 1) == 0 and len(c) <= 256 for c in chunks)


@pytest.mark.parametrize("update_from", [True, False], ids=["update-from", "fallback"])
def test_update_from_values_writes_null_where_the_row_is_empty(
    engine: Engine, update_from: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "_UPDATE_FROM", update_from)
    fallback = (
        update(events)
        .where(events.c.id == bindparam("b_id"))
        .values(site=bindparam("b_site"), description=bindparam("b_desc"))
    )
    rows = [_row(i, frozenset(), False) for i in (1, 2, 3)]
    updates: list[dict[str, Any]] = [
        {"b_id": 1, "b_site": None, "b_desc": "one"},
        {"b_id": 2, "b_site": "moved", "b_desc": None},
        {"b_id": 3, "b_site": None, "b_desc": None},
    ]
    with engine.connect() as conn, conn.begin():
        bulk.insert_many(conn, "events", events.insert(), rows)
        bulk.update_from_values(
            conn,
            "events",
            "id",
            ("b_id", "b_site", "b_desc"),
            "site = v.b_site, description = v.b_desc",
            updates,
            fallback=fallback,
        )
        got = [(r["id"], r["site"], r["description"]) for r in _stored(conn)]
        conn.execute(events.delete())
    assert got == [(1, None, "one"), (2, "moved", None), (3, None, None)]
