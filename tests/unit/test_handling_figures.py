"""Handling-time figures and the SOP checklist: the numbers dashboards and reports show."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tocsin.api.incidents import sop_checklist
from tocsin.model import TimelineEntry
from tocsin.report.handling import quantile
from tocsin.report.operations import percentiles

delays = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200).map(sorted)


@given(delays, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_quantiles_stay_inside_the_data_and_grow_with_q(values: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert values[0] - 1e-3 <= quantile(values, lo) <= quantile(values, hi) + 1e-3 <= values[-1] + 2e-3


def test_percentiles_of_known_delays() -> None:
    figures = percentiles([float(s) for s in range(1, 101)])
    assert (figures.n, figures.p50, figures.p90, figures.p99) == (100, 50.5, 90.1, 99.01)
    assert percentiles([]).p50 is None and percentiles([]).n == 0


def _tick(step: int, done: bool, actor: str, minute: int) -> TimelineEntry:
    at = datetime(2026, 11, 23, 10, minute, tzinfo=UTC)
    return TimelineEntry(at=at, actor=actor, action="sop", data={"step": step, "done": done})


def test_latest_tick_of_each_step_wins() -> None:
    procedure = ["call the fire service", "meet them at the gate", "log the outcome"]
    timeline = [
        TimelineEntry(at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC), actor="system", action="open"),
        _tick(0, True, "ana", 1),
        _tick(2, True, "ben", 2),
        _tick(2, False, "ben", 3),
        _tick(7, True, "ana", 4),  # a step of an older, longer procedure: ignored, not an error
    ]
    steps = sop_checklist(procedure, timeline)
    assert [s.done for s in steps] == [True, False, False]
    assert steps[0].by == "ana" and steps[2].by is None and steps[2].at is not None
    assert [s.text for s in steps] == procedure
