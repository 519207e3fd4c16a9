"""How fast this host lets plain Python run, sampled through a benchmark: a yardstick for drift.

Why: on a shared virtual machine the same code measures very differently from one minute
to the next, and a figure alone cannot say whether the code or the host changed. Seen on
a 2-vCPU AMD EPYC host, idle, no steal reported: a fixed loop took either about 7.6 ms or
about 14 ms of CPU time, switching between the two within a second and more often slow
than fast; ``bench/sia.py`` gave 11.3k frames/s in one full run and 19.2k in another on
the same commit.

So a sampler process times a small fixed workload every :data:`PERIOD_S` for the whole
benchmark, in CPU time (``time.process_time``: a sample waiting for a core is not counted
as slow, a core running slowly is). A measurement then reports the host's speed during
it: the fastest sample of the whole benchmark over the median sample of its own span.
1.00 means the host ran at the best speed seen; 0.55, that Python ran at about half of
it. The sampler costs about 1-2 % of one core. Its samples do not read slower for the
benchmark's own load: with two busy-looping processes on both cores they read as idle
ones did (median 2.17 against 2.25 ms, the host being fast then).
"""

from __future__ import annotations

import bisect
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

__all__ = ("PERIOD_S", "HostSpeed")

PERIOD_S = 0.2
"""Time between two samples."""
_SIZE = 10_000
"""Loop iterations of one sample: 2-4 ms of CPU time on the host above."""


def _workload() -> int:
    """Interpreter work of the kind tocsin does per event: dict and str operations, calls, a loop."""
    total = 0
    seen: dict[str, int] = {}
    for i in range(_SIZE):
        key = f"site-{i % 512}"
        seen[key] = seen.get(key, 0) + 1
        total += len(key) + (i & 7)
    return total + len(seen)


def _sample_cpu_s() -> float:
    began = time.process_time()
    _workload()
    return time.process_time() - began


def _sampler(pipe: Connection) -> None:
    """Sample until asked; then send every (monotonic time, CPU seconds) pair."""
    samples: list[tuple[float, float]] = []
    while not pipe.poll(PERIOD_S):
        samples.append((time.monotonic(), _sample_cpu_s()))
    pipe.recv()
    pipe.send(samples)


class HostSpeed:
    """The sampler: ``start`` before the first measurement, ``stop`` after the last, then
    ``during`` for each measurement's span (``time.monotonic`` values taken around it)."""

    def __init__(self) -> None:
        self._pipe: Connection | None = None
        self._process: Any = None
        self._samples: list[tuple[float, float]] = []

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_sampler, args=(child,), daemon=True)
        self._process.start()

    def stop(self) -> None:
        if self._pipe is None:
            return
        self._pipe.send("stop")
        if self._pipe.poll(10):
            self._samples = self._pipe.recv()
        self._process.join(timeout=10)
        self._pipe = None

    def during(self, began: float, ended: float) -> float | None:
        """The host's speed over [began, ended] against its fastest sample (None: no sample then)."""
        if not self._samples:
            return None
        times = [t for t, _ in self._samples]
        inside = [cpu for _, cpu in self._samples[bisect.bisect_left(times, began) : bisect.bisect_right(times, ended)]]
        if not inside:
            return None
        fastest = min(cpu for _, cpu in self._samples)
        return round(fastest / statistics.median(inside), 2)
