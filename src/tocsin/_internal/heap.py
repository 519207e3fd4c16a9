"""The cyclic garbage collector's settings for a long-running tocsin process.

Why: nearly everything an event allocates on the ingest path (its decoded struct, its
attribute dict, its rows) dies by reference counting within the batch, yet with CPython's
default first threshold (700 net allocations) a batch of a few hundred events triggers a
young collection that walks the batch's still-live objects, over and over: in the server
process under ``bench/sia.py`` 1,709 collections took 0.73 s for 565k events (1.3 µs an
event). A first threshold of 20,000 let 3 collections take 0.13 s for the same load: the
objects are dead by the time one runs. Cyclic garbage (exceptions with their tracebacks,
mostly) is still collected, a little later.

Everything alive once a process has started (modules, the guard's automata, loaded
engine state) lives as long as the process: frozen, the full collections no longer walk
it (they stalled every request for ~100 ms at a time under load before).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

__all__ = ("YOUNG_THRESHOLD", "settle")

YOUNG_THRESHOLD = 20_000
"""Net container allocations between two young collections (CPython's default: 700)."""
_OLDER = (20, 20)
"""Young collections per middle one, middle per full one (default 10 and 10): full passes
still happen only when the objects surviving since the last amount to a quarter of those
already old (CPython's own rule)."""


def settle() -> Callable[[], None]:
    """Collect, freeze what exists now, raise the thresholds; returns what undoes it.

    The undo matters to a process that builds many apps in turn (the tests), so each can
    be collected once it is done.
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *_OLDER)

    def undo() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return undo
