"""A long-running process's GC settings: raised, frozen, and put back for the next app."""

from __future__ import annotations

import gc

from tocsin._internal import heap


def test_settle_freezes_what_exists_raises_the_thresholds_and_undoes_both() -> None:
    before = gc.get_threshold()
    alive: list[list[int]] = [[] for _ in range(10)]  # containers: tracked, so frozen
    undo = heap.settle()
    try:
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD > before[0]
        assert gc.get_freeze_count() >= len(alive)
    finally:
        undo()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
