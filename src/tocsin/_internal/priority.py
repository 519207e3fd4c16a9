"""CPU priority of the threads that do the store's batch work.

Why: on a small machine the cores are shared by the event loops that answer (the HTTP
server's, the SIA receiver process's, which ACKs a panel's frame once it is in its journal)
and by the store's writer and commit threads, which turn what was answered into group
commits. A loop that waits for a core holds up every panel or client behind it; the
writer that waits only gathers a larger group, which costs less per event. So the
store's threads run at a lower priority (a higher nice value) than the loops, and get
the cores whenever nobody else wants them. Measured with ``bench/sia.py`` (50 stop-and-wait
panels, 2 cores), runs taken in turns: 17.6k frames/s with the threads at the loops'
priority, 19.9k at nice +5 (means of 6 runs each).

Raising one's own nice value needs no privilege; where it is refused or unsupported, the
thread runs at the process's priority as before.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ("BACKGROUND_NICE", "lower_this_thread")

BACKGROUND_NICE = 5
"""Added to the process's nice value (CFS: a nice-5 thread weighs about a third of a nice-0 one)."""


def lower_this_thread(by: int = BACKGROUND_NICE) -> None:
    """Lower the calling thread's priority by ``by`` nice steps (Linux: threads have their own)."""
    if not hasattr(os, "setpriority"):  # pragma: no cover - not on Windows
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
