"""Correlation: which events become one incident, and the invariants that always hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from tests.conftest import SyncEngine
from tocsin.engine.correlate import CorrelationIndex, OpenIncident, correlation_key, distance_m
from tocsin.model import EventIn, Location
from tocsin.store.schema import events, incidents
from tocsin.store.sqlite import open_database

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ev(type: str = "fire.smoke", site: str | None = "school-1", *, at: float = 0, **kw: Any) -> EventIn:
    return EventIn(
        type=type,
        method=kw.pop("method", "equipment"),
        source=kw.pop("source", "dev-1"),
        site=site,
        occurred_at=T0 + timedelta(seconds=at),
        **kw,
    )


def test_repeats_within_window_join_one_incident(engine: SyncEngine) -> None:
    window = engine.state.dictionary.classify("fire.smoke").correlation_window
    result = engine.ingest([ev(at=0), ev(at=window / 2), ev(at=window - 1)])
    assert len({inc for _, inc in result}) == 1
    assert [e for e, _ in result] == sorted(e for e, _ in result)


def test_event_after_window_opens_new_incident(engine: SyncEngine) -> None:
    window = engine.state.dictionary.classify("fire.smoke").correlation_window
    first, second = engine.ingest([ev(at=0), ev(at=window + 1)])
    assert first[1] != second[1]


def test_window_is_measured_from_the_last_event(engine: SyncEngine) -> None:
    window = engine.state.dictionary.classify("fire.smoke").correlation_window
    result = engine.ingest([ev(at=i * (window - 1)) for i in range(5)])
    assert len({inc for _, inc in result}) == 1


def test_other_site_type_or_exercise_do_not_join(engine: SyncEngine) -> None:
    result = engine.ingest([ev(), ev(site="school-2"), ev(type="intrusion.burglary"), ev(exercise=True), ev()])
    incidents_seen = [inc for _, inc in result]
    assert len(set(incidents_seen[:4])) == 4
    assert incidents_seen[4] == incidents_seen[0]


def test_type_by_code_or_alias_classifies_the_same(engine: SyncEngine) -> None:
    smoke = engine.state.dictionary.classify("fire.smoke")
    names = ["fire.smoke", smoke.code, "FIRE.SMOKE", *smoke.aliases]
    result = engine.ingest([ev(type=n) for n in names])
    assert len({inc for _, inc in result}) == 1


def test_unknown_types_are_kept_as_unclassified_and_not_merged(engine: SyncEngine) -> None:
    result = engine.ingest([ev(type="vendor.x17"), ev(type="vendor.x18"), ev(type="vendor.x17")])
    assert result[0][1] == result[2][1] != result[1][1]
    with engine.db.read_engine.connect() as conn:
        rows = conn.execute(select(incidents.c.alarm_type, incidents.c.unmapped_type).order_by(incidents.c.id)).all()
    assert [tuple(r) for r in rows] == [("unclassified", "vendor.x17"), ("unclassified", "vendor.x18")]


def test_restore_clears_the_incident_and_stays_in_queue(engine: SyncEngine) -> None:
    (_, inc), (_, same) = engine.ingest([ev(at=0), ev(at=3600 * 5, condition="cleared")])
    assert inc == same
    with engine.db.read_engine.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == inc)).mappings().one()
    assert (row["condition"], row["handling"], row["event_count"]) == ("cleared", "new", 2)


def test_restore_with_nothing_open_is_stored_unattached(engine: SyncEngine) -> None:
    [(event_id, inc)] = engine.ingest([ev(condition="cleared")])
    assert inc is None
    with engine.db.read_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 0


def test_radius_separates_far_events_at_one_site(engine: SyncEngine) -> None:
    typ = next(t for t in engine.state.dictionary if t.radius_m)
    near = Location(lat=52.37, lon=4.89)
    close = Location(lat=52.37 + (typ.radius_m or 0) / 2 / 111_000, lon=4.89)
    far = Location(lat=52.37 + (typ.radius_m or 0) * 3 / 111_000, lon=4.89)
    r = engine.ingest([ev(typ.key, location=near), ev(typ.key, location=close), ev(typ.key, location=far)])
    assert r[0][1] == r[1][1] != r[2][1]


def test_siteless_events_correlate_by_distance_across_grid_cells(engine: SyncEngine) -> None:
    # 52.3699 and 52.3701 fall in different 0.01-degree cells but are 22 m apart.
    a = Location(lat=52.3699, lon=4.8999)
    b = Location(lat=52.3701, lon=4.9001)
    far = Location(lat=52.40, lon=4.95)
    r = engine.ingest(
        [
            ev("traffic.collision", None, method="call", source="call-1", location=a),
            ev("traffic.collision", None, method="call", source="call-2", location=b),
            ev("traffic.collision", None, method="call", source="call-3", location=far),
        ]
    )
    assert r[0][1] == r[1][1] != r[2][1]


def test_events_with_no_place_correlate_only_by_source(engine: SyncEngine) -> None:
    r = engine.ingest([ev(site=None, source="a"), ev(site=None, source="b"), ev(site=None, source="a")])
    assert r[0][1] == r[2][1] != r[1][1]


def _snapshot(engine: SyncEngine) -> dict[int, tuple[object, int]]:
    found = (engine.state.index.get(i) for i in range(1, 200))
    return {inc.id: (inc.key, inc.count) for inc in found if inc is not None}


def test_index_rebuilt_from_store_matches_memory(engine: SyncEngine) -> None:
    engine.ingest([ev(site=f"s{i % 7}", type=("fire.smoke", "vendor.q")[i % 2], source=f"d{i}") for i in range(40)])
    before = _snapshot(engine)
    with engine.db.read_engine.connect() as conn:
        engine.state.reload(conn)
    assert before == _snapshot(engine) and before


def test_index_lookup_does_not_scan_other_keys() -> None:
    index = CorrelationIndex()
    for i in range(50_000):
        key = correlation_key("fire.smoke", f"site-{i}", "d", False, None, None, None)
        index.add(OpenIncident(i, key, 0, None, None))
    target = correlation_key("fire.smoke", "site-49999", "d", False, None, None, None)
    match = index.match(target, 10, 300_000_000, None, None, None)
    assert match is not None and match.id == 49_999
    assert len(index._buckets[target]) == 1


def test_distance_is_haversine() -> None:
    # One degree of latitude is ~111.2 km everywhere.
    assert abs(distance_m(0, 0, 1, 0) - 111_195) < 50
    assert distance_m(52.37, 4.89, 52.37, 4.89) == 0


# -- properties: nothing lost, nothing counted twice ---------------------------------

event_strategy = st.builds(
    lambda typ, site, src, at, cleared, ext, exercise: ev(
        typ,
        site,
        at=at,
        source=src,
        condition="cleared" if cleared else "active",
        external_id=ext,
        exercise=exercise,
    ),
    st.sampled_from(["fire.smoke", "intrusion.burglary", "vendor.zz", "medical.fall"]),
    st.sampled_from(["a", "b", None]),
    st.sampled_from(["d1", "d2", "d3"]),
    st.integers(min_value=0, max_value=4000),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3", "e4"])),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(event_strategy, min_size=1, max_size=12), min_size=1, max_size=6))
def test_no_event_lost_none_counted_twice(tmp_path: Path, batches: list[list[EventIn]]) -> None:
    db = open_database(tmp_path / f"p{abs(hash(repr(batches)))}.db", synchronous="OFF")
    try:
        engine = SyncEngine(db)
        results = [engine.ingest(batch) for batch in batches]
        expected_keys: set[tuple[str, str]] = set()
        expected_plain = 0
        by_key: dict[tuple[str, str], tuple[int, int | None]] = {}
        for batch, result in zip(batches, results, strict=True):
            assert len(result) == len(batch)
            for item, res in zip(batch, result, strict=True):
                if item.external_id is None:
                    expected_plain += 1
                    continue
                key = (item.source, item.external_id)
                expected_keys.add(key)
                # A repeated (source, external_id) always answers with the original ids.
                assert by_key.setdefault(key, res) == res
        with db.read_engine.connect() as conn:
            stored = conn.execute(select(events.c.id, events.c.incident_id, events.c.condition)).all()
            counts = dict(conn.execute(select(incidents.c.id, incidents.c.event_count)).all())
        assert len(stored) == len(expected_keys) + expected_plain
        per_incident: dict[int, int] = {}
        for _, incident_id, condition in stored:
            if incident_id is None:
                assert condition == "cleared"  # only a restore with nothing open may stand alone
                continue
            assert incident_id in counts
            per_incident[incident_id] = per_incident.get(incident_id, 0) + 1
        assert per_incident == counts
    finally:
        db.close()
